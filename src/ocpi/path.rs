//! Receiver URLs: split by hand so a doubled or trailing slash routes the same,
//! and each segment is percent-decoded exactly once (`%2F` stays inside a uid).

use axum::http::Method;
use percent_encoding::percent_decode_str;

use super::OcpiError;

/// The OCPI versions this receiver speaks.
pub const VERSIONS: &[&str] = &["2.1.1", "2.2.1"];

/// An OCPI module of the receiver interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Module {
    /// Locations, EVSEs and connectors.
    Locations,
    /// Charging sessions.
    Sessions,
    /// Charge detail records.
    Cdrs,
    /// Tariffs.
    Tariffs,
    /// GreenFlux ChargeStation notifications.
    Notifications,
}

impl Module {
    /// The module's URL segment and OCPI identifier.
    pub fn name(self) -> &'static str {
        match self {
            Module::Locations => "locations",
            Module::Sessions => "sessions",
            Module::Cdrs => "cdrs",
            Module::Tariffs => "tariffs",
            Module::Notifications => "notifications",
        }
    }

    fn parse(segment: &str) -> Option<Module> {
        [
            Module::Locations,
            Module::Sessions,
            Module::Cdrs,
            Module::Tariffs,
            Module::Notifications,
        ]
        .into_iter()
        .find(|m| m.name() == segment)
    }
}

/// What a request under `/ocpi/` addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `GET /ocpi/versions`.
    Versions,
    /// `GET /ocpi/{version}`: the version details.
    VersionDetails(&'static str),
    /// An object URL of a module, with its decoded id segments.
    Object {
        /// `2.1.1` or `2.2.1`.
        version: &'static str,
        /// The module.
        module: Module,
        /// Decoded segments after the module (cc, party, ids...).
        ids: Vec<String>,
    },
}

impl Target {
    /// Reads the path below `/ocpi/` and checks the method against what the URL supports.
    pub fn parse(method: &Method, raw_path: &str) -> Result<Target, OcpiError> {
        let segments = split(raw_path)?;
        let target = route(&segments, raw_path)?;
        let allow = target.allowed_methods();
        if !allow.contains(method) {
            let allow: Vec<&str> = allow.iter().map(Method::as_str).collect();
            return Err(OcpiError::MethodNotAllowed {
                method: method.to_string(),
                allow: allow.join(", "),
            });
        }
        Ok(target)
    }

    /// The methods this URL answers (OCPI receiver interfaces).
    pub fn allowed_methods(&self) -> Vec<Method> {
        use Method as M;
        match self {
            Target::Versions | Target::VersionDetails(_) => vec![M::GET],
            Target::Object {
                version,
                module,
                ids,
                ..
            } => match module {
                Module::Locations | Module::Sessions => vec![M::GET, M::PUT, M::PATCH],
                Module::Cdrs if ids.is_empty() => vec![M::POST],
                Module::Cdrs => vec![M::GET],
                Module::Tariffs if *version == "2.1.1" => {
                    vec![M::GET, M::PUT, M::PATCH, M::DELETE]
                }
                Module::Tariffs => vec![M::GET, M::PUT, M::DELETE],
                Module::Notifications => vec![M::GET, M::PUT],
            },
        }
    }
}

/// Whether the path is under a functional module of a version (OCPI 2.2.1
/// routing headers apply there, never to versions or version details).
pub fn names_module(raw_path: &str) -> bool {
    let Ok(segments) = split(raw_path) else {
        return false;
    };
    match segments.as_slice() {
        [version, module, ..] => {
            VERSIONS.contains(&version.as_str()) && Module::parse(module).is_some()
        }
        _ => false,
    }
}

fn split(raw_path: &str) -> Result<Vec<String>, OcpiError> {
    let rest = raw_path.trim_start_matches('/');
    let rest = rest.strip_prefix("ocpi").unwrap_or(rest);
    rest.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|d| d.into_owned())
                .map_err(|_| OcpiError::NotFound(format!("path segment {s:?} is not UTF-8")))
        })
        .collect()
}

fn route(segments: &[String], raw_path: &str) -> Result<Target, OcpiError> {
    let not_found = || OcpiError::NotFound(format!("no OCPI endpoint at {raw_path}"));
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let version = match segs.first() {
        Some(&"versions") if segs.len() == 1 => return Ok(Target::Versions),
        Some(v) => VERSIONS.iter().copied().find(|known| known == v),
        None => None,
    }
    .ok_or_else(not_found)?;
    let Some(module) = segs.get(1) else {
        return Ok(Target::VersionDetails(version));
    };
    let module = Module::parse(module).ok_or_else(not_found)?;
    let ids: Vec<String> = segments[2..].to_vec();
    let shape_ok = match module {
        Module::Locations => (3..=5).contains(&ids.len()),
        Module::Sessions | Module::Tariffs => ids.len() == 3,
        Module::Cdrs => ids.is_empty() || ids.len() == 3,
        Module::Notifications => ids.len() == 1,
    };
    if !shape_ok {
        return Err(not_found());
    }
    Ok(Target::Object {
        version,
        module,
        ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(path: &str) -> Vec<String> {
        match Target::parse(&Method::PATCH, path).unwrap() {
            Target::Object { ids, .. } => ids,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn decodes_each_segment_once() {
        let ids = object("/ocpi/2.1.1/locations/NL/GFX/LOC1/BE%2FBEC%2BE04*1");
        assert_eq!(ids, ["NL", "GFX", "LOC1", "BE/BEC+E04*1"]);
        let ids = object("/ocpi/2.1.1/locations/NL/GFX/LOC1/A%252F");
        assert_eq!(ids[3], "A%2F");
    }

    #[test]
    fn tolerates_doubled_and_trailing_slashes() {
        let ids = object("/ocpi//2.2.1/sessions/NL/GFX//S1/");
        assert_eq!(ids, ["NL", "GFX", "S1"]);
    }

    #[test]
    fn answers_405_with_allow() {
        let err = Target::parse(&Method::DELETE, "/ocpi/2.2.1/sessions/NL/GFX/S1").unwrap_err();
        assert_eq!(err.http_status(), 405);
        assert_eq!(err.allow_header().unwrap(), "GET, PUT, PATCH");
    }

    #[test]
    fn module_urls_are_told_from_version_urls() {
        assert!(names_module("/ocpi/2.2.1/locations/NL/GFX/L1"));
        assert!(names_module("/ocpi/2.2.1/cdrs"));
        assert!(!names_module("/ocpi/2.2.1"));
        assert!(!names_module("/ocpi/versions"));
        assert!(!names_module("/ocpi/2.2.1/credentials"));
    }

    #[test]
    fn unknown_shapes_are_404() {
        let err = Target::parse(&Method::PUT, "/ocpi/2.1.1/locations/NL/GFX").unwrap_err();
        assert_eq!(err.http_status(), 404);
        let err = Target::parse(&Method::PUT, "/ocpi/3.0/locations/NL/GFX/L").unwrap_err();
        assert_eq!(err.http_status(), 404);
    }
}
