// chargegraph status board.
//
// The location list comes from one GraphQL query over HTTP; everything that
// changes comes over one WebSocket speaking graphql-transport-ws, written out
// here (connection_init, subscribe, next, error, complete, ping/pong) so the
// page needs no library and no build step: the server embeds this file as it
// is. The server is the source of truth; the page keeps only what it shows
// and, per feed, the cursor to resume from after a reconnect.

const GRAPHQL_PATH = '/graphql';
const KEY_STORAGE = 'chargegraph.board.apiKey';
// The server's default max_page_size; a smaller cap is read from its error.
const PAGE_SIZE = 100;
// A board is for a few thousand EVSEs at most; stop paging past that.
const MAX_PAGES = 50;
const FEED_LENGTH = 25;
// Reconnect delays grow from one second to ten (with jitter, see backoff).
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 10000;
// The page pings the server this often and gives the link up after this much
// silence: a sleeping laptop or a dropped Wi-Fi never sends a close frame.
const PING_EVERY_MS = 20000;
const SILENCE_MS = 45000;
const CONNECT_TIMEOUT_MS = 15000;
const CLOCK_TICK_MS = 15000;

const STATUS_ORDER = [
  'AVAILABLE', 'CHARGING', 'RESERVED', 'BLOCKED', 'OUTOFORDER',
  'INOPERATIVE', 'PLANNED', 'UNKNOWN', 'OTHER', 'REMOVED',
];
const STATUS_WORDS = {
  AVAILABLE: 'Available',
  CHARGING: 'Charging',
  RESERVED: 'Reserved',
  BLOCKED: 'Blocked',
  OUTOFORDER: 'Out of order',
  INOPERATIVE: 'Inoperative',
  PLANNED: 'Planned',
  REMOVED: 'Removed',
  UNKNOWN: 'Unknown',
  OTHER: 'Other',
};

const LOCATIONS_QUERY = `query BoardLocations($filter: LocationsFilter, $first: Int!, $after: String) {
  locations(filter: $filter, first: $first, after: $after, orderBy: {field: NAME, direction: ASC}) {
    pageInfo { hasNextPage endCursor }
    nodes {
      countryCode partyId ocpiId name city
      evses { uid evseId status statusRaw statusSince }
    }
  }
}`;

const FACETS_QUERY = `query BoardFacets($first: Int!, $after: String) {
  locations(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { countryCode partyId city }
  }
}`;

// One entry per subscription: its document, the field it answers in, and
// whether it takes `after`/`snapshot` (the counts start over on every
// subscribe, so they need no cursor).
const FEEDS = {
  statuses: {
    field: 'evseStatusChanged',
    resumable: true,
    query: `subscription BoardStatuses($filter: EvseStatusChangedFilter, $after: String, $snapshot: Boolean!) {
      evseStatusChanged(filter: $filter, after: $after, snapshot: $snapshot) {
        kind cursor
        ... on EvseStatusChange { countryCode partyId locationId uid status statusRaw changedAt }
      }
    }`,
  },
  counts: {
    field: 'statusSummaryChanged',
    resumable: false,
    query: `subscription BoardCounts($filter: StatusSummaryChangedFilter) {
      statusSummaryChanged(filter: $filter) { kind cursor total counts { status count } }
    }`,
  },
  sessions: {
    field: 'sessionUpdated',
    resumable: true,
    query: `subscription BoardSessions($filter: SessionUpdatedFilter, $after: String, $snapshot: Boolean!) {
      sessionUpdated(filter: $filter, after: $after, snapshot: $snapshot) {
        kind cursor
        ... on SessionUpdate {
          countryCode partyId sessionId locationId evseUid status kwh
          session { receivedAt }
        }
      }
    }`,
  },
  cdrs: {
    field: 'cdrReceived',
    resumable: true,
    query: `subscription BoardCdrs($filter: CdrReceivedFilter, $after: String, $snapshot: Boolean!) {
      cdrReceived(filter: $filter, after: $after, snapshot: $snapshot) {
        kind cursor
        ... on CdrReceipt {
          countryCode partyId cdrId locationId evseUid
          cdr { receivedAt totalEnergy totalCost currency }
        }
      }
    }`,
  },
};

// What the page shows, rebuilt from the server on a filter change or a RESET.
const board = {
  filter: { party: '', city: '' },
  locations: [],
  // Tile key -> {element, location, evse} for the tiles on the page.
  tiles: new Map(),
  // Tile key -> {status, raw, since}: the feeds' word, which beats the query's.
  statuses: new Map(),
  // Feed name -> the cursor of its last item; null means "start from a snapshot".
  cursors: { statuses: null, sessions: null, cdrs: null },
  // 'session:...' or 'cdr:...' -> one line of the sessions and CDRs feed.
  feed: new Map(),
  // Tile keys a location reload was already asked for (asked once each).
  asked: new Set(),
  // Bumped by every restart, so that answers to an older load are dropped.
  generation: 0,
  reloadTimer: null,
  renderTimer: null,
  // The filter choices are read once per page load: the whole list, unfiltered.
  facetsLoaded: false,
  loadAttempts: 0,
};

// The WebSocket and what runs on it.
const link = {
  ws: null,
  acked: false,
  attempts: 0,
  timer: null,
  // Whether a reconnect is scheduled (the page is offline and waiting).
  waiting: false,
  openedAt: 0,
  lastHeard: 0,
  lastPing: 0,
  nextId: 1,
  // Operation id -> feed name; ids are never reused, so a late message of
  // an operation the page has moved on from is ignored.
  ops: new Map(),
};

// A 401 or UNAUTHENTICATED answer: the page needs an API key.
class AuthRequired extends Error {}

const $ = (selector) => document.querySelector(selector);

// ---- Start-up ----------------------------------------------------------

function start() {
  readFilter();
  bindControls();
  setInterval(tick, 5000);
  setInterval(refreshTimes, CLOCK_TICK_MS);
  load();
}

function bindControls() {
  $('#party').addEventListener('change', onFilterChange);
  $('#city').addEventListener('change', onFilterChange);
  $('#filters').addEventListener('submit', (event) => event.preventDefault());
  $('#key-form').addEventListener('submit', onKeySubmit);
  // Back online or back in view: try now rather than at the end of a backoff.
  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') reconnectNow();
  });
}

// Loads the locations, then opens the feeds. Failures other than a missing
// key retry with the same backoff as the WebSocket.
async function load() {
  const generation = ++board.generation;
  try {
    await loadLocations(generation);
    if (generation !== board.generation) return;
    board.loadAttempts = 0;
    renderGrid();
    connect();
    if (!board.facetsLoaded) {
      board.facetsLoaded = true;
      loadFacets().catch((error) => console.warn('filter choices not loaded:', error));
    }
  } catch (error) {
    if (generation !== board.generation) return;
    if (error instanceof AuthRequired) {
      askForKey(storedKey() ? 'The server refused the API key.' : null);
      return;
    }
    const delay = backoff(board.loadAttempts++);
    goOffline(`Cannot load the locations (${error.message}). Retrying in ${seconds(delay)}…`);
    link.timer = setTimeout(load, delay);
  }
}

// Drops everything shown and loads again: after a filter change or a new key.
function restart() {
  closeSocket();
  clearTimeout(link.timer);
  link.waiting = false;
  link.attempts = 0;
  board.locations = [];
  board.statuses.clear();
  board.asked.clear();
  board.feed.clear();
  board.cursors = { statuses: null, sessions: null, cdrs: null };
  $('#counts').replaceChildren();
  $('#feed').replaceChildren();
  $('#grid').setAttribute('aria-busy', 'true');
  setConnection('connecting', 'Connecting…');
  load();
}

// ---- Filters, kept in the URL ------------------------------------------

function readFilter() {
  const params = new URLSearchParams(window.location.search);
  board.filter.party = params.get('party') ?? '';
  board.filter.city = params.get('city') ?? '';
  addOption($('#party'), board.filter.party);
  addOption($('#city'), board.filter.city);
  $('#party').value = board.filter.party;
  $('#city').value = board.filter.city;
}

function onFilterChange() {
  board.filter.party = $('#party').value;
  board.filter.city = $('#city').value;
  const params = new URLSearchParams();
  if (board.filter.party) params.set('party', board.filter.party);
  if (board.filter.city) params.set('city', board.filter.city);
  const query = params.toString();
  history.replaceState(null, '', query ? `?${query}` : window.location.pathname);
  restart();
}

// The filter in the shape every query and subscription here takes: a party
// is written CC/PARTY in the URL, as OCPI names it.
function filterVariables() {
  const filter = {};
  const [countryCode, partyId] = board.filter.party.split('/');
  if (countryCode && partyId) Object.assign(filter, { countryCode, partyId });
  if (board.filter.city) filter.city = board.filter.city;
  return filter;
}

async function loadFacets() {
  const parties = new Set();
  const cities = new Set();
  for await (const nodes of pages(FACETS_QUERY, {})) {
    for (const node of nodes) {
      parties.add(`${node.countryCode}/${node.partyId}`);
      if (node.city) cities.add(node.city);
    }
  }
  [...parties].sort().forEach((party) => addOption($('#party'), party));
  [...cities].sort().forEach((city) => addOption($('#city'), city));
}

function addOption(select, value) {
  if (!value || [...select.options].some((option) => option.value === value)) return;
  select.append(new Option(value, value));
}

// ---- API key -------------------------------------------------------------

// localStorage can be switched off (private windows, policies); the key then
// lives as long as the page.
let memoryKey = null;

function storedKey() {
  try {
    return window.localStorage.getItem(KEY_STORAGE) ?? memoryKey;
  } catch {
    return memoryKey;
  }
}

function storeKey(key) {
  memoryKey = key;
  try {
    if (key) window.localStorage.setItem(KEY_STORAGE, key);
    else window.localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Kept in memory only.
  }
}

function askForKey(reason) {
  closeSocket();
  clearTimeout(link.timer);
  link.waiting = false;
  storeKey(null);
  setConnection('locked', 'API key needed');
  $('#offline').hidden = true;
  if (reason) $('#auth-reason').textContent = `${reason} Enter a valid API key.`;
  $('#auth').hidden = false;
  $('#api-key').focus();
}

function onKeySubmit(event) {
  event.preventDefault();
  const key = $('#api-key').value.trim();
  if (!key) return;
  storeKey(key);
  $('#api-key').value = '';
  $('#auth').hidden = true;
  restart();
}

// ---- GraphQL over HTTP -----------------------------------------------------

async function graphql(query, variables) {
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/graphql-response+json, application/json',
  };
  const key = storedKey();
  if (key) headers['X-API-Key'] = key;
  const response = await fetch(GRAPHQL_PATH, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  if (response.status === 401) throw new AuthRequired('unauthenticated');
  const body = await response.json();
  const errors = body.errors ?? [];
  if (errors.some((error) => error.extensions?.code === 'UNAUTHENTICATED')) {
    throw new AuthRequired('unauthenticated');
  }
  if (errors.length > 0) throw graphqlError(errors[0]);
  return body.data;
}

function graphqlError(error) {
  const failure = new Error(error.message);
  failure.code = error.extensions?.code;
  return failure;
}

// Every page of a `locations` query, in order, as lists of nodes.
async function* pages(query, variables) {
  let first = PAGE_SIZE;
  let after = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    let data;
    try {
      data = await graphql(query, { ...variables, first, after });
    } catch (error) {
      // The server caps `first` below our page size: take its cap.
      const cap = error.code === 'BAD_USER_INPUT' && /at most (\d+)/.exec(error.message);
      if (!cap || Number(cap[1]) >= first) throw error;
      first = Number(cap[1]);
      page -= 1;
      continue;
    }
    yield data.locations.nodes;
    if (!data.locations.pageInfo.hasNextPage) return;
    after = data.locations.pageInfo.endCursor;
  }
}

async function loadLocations(generation) {
  const locations = [];
  for await (const nodes of pages(LOCATIONS_QUERY, { filter: filterVariables() })) {
    if (generation !== board.generation) return;
    locations.push(...nodes);
  }
  board.locations = locations;
}

// A status came for an EVSE the grid does not show (a new location or EVSE):
// read the locations again, once per EVSE, a moment later so that a burst of
// such statuses costs one query.
function reloadLocationsSoon(key) {
  if (key !== undefined) {
    if (board.asked.has(key)) return;
    board.asked.add(key);
  }
  clearTimeout(board.reloadTimer);
  board.reloadTimer = setTimeout(async () => {
    const generation = board.generation;
    try {
      await loadLocations(generation);
      if (generation === board.generation) renderGrid();
    } catch (error) {
      if (error instanceof AuthRequired) askForKey('The server refused the API key.');
      else console.warn('locations not reloaded:', error);
    }
  }, 300);
}

// ---- graphql-transport-ws --------------------------------------------------

function socketUrl() {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}${GRAPHQL_PATH}`;
}

function connect() {
  clearTimeout(link.timer);
  link.waiting = false;
  closeSocket();
  const ws = new WebSocket(socketUrl(), 'graphql-transport-ws');
  link.ws = ws;
  link.acked = false;
  link.openedAt = Date.now();
  ws.addEventListener('open', () => {
    if (ws !== link.ws) return;
    const key = storedKey();
    send({ type: 'connection_init', payload: key ? { apiKey: key } : {} });
  });
  ws.addEventListener('message', (event) => {
    if (ws === link.ws) onMessage(event.data);
  });
  ws.addEventListener('close', (event) => {
    if (ws === link.ws) onClose(event);
  });
}

// Closes the socket without reacting to its close event.
function closeSocket() {
  const ws = link.ws;
  link.ws = null;
  link.acked = false;
  link.ops.clear();
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'board closed');
}

function send(message) {
  if (link.ws && link.ws.readyState === WebSocket.OPEN) link.ws.send(JSON.stringify(message));
}

function onMessage(text) {
  link.lastHeard = Date.now();
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    console.warn('unreadable message from the server');
    return;
  }
  switch (message.type) {
    case 'connection_ack': return onAck();
    case 'ping': return send({ type: 'pong' });
    case 'next': return onNext(message.id, message.payload);
    case 'error': return onOperationError(message.id, message.payload);
    case 'complete': return onComplete(message.id);
    default: return undefined; // pong, and anything a newer server may add
  }
}

function onAck() {
  link.acked = true;
  link.attempts = 0;
  goLive();
  Object.keys(FEEDS).forEach(subscribe);
}

// Subscribes one feed: from its cursor when it has one (the server replays
// what was missed), else from a snapshot of the current state.
function subscribe(name) {
  const feed = FEEDS[name];
  const id = `${name}-${link.nextId++}`;
  const variables = { filter: filterVariables() };
  if (feed.resumable) {
    variables.after = board.cursors[name];
    variables.snapshot = board.cursors[name] === null;
  }
  link.ops.set(id, name);
  send({ id, type: 'subscribe', payload: { query: feed.query, variables } });
}

function onNext(id, payload) {
  const name = link.ops.get(id);
  if (!name) return;
  const lagged = (payload.errors ?? []).find((e) => e.extensions?.code === 'SUBSCRIBER_LAGGED');
  if (lagged) {
    // The server gave up on this feed for us; `complete` follows and we
    // resubscribe from the cursor it names.
    board.cursors[name] = lagged.extensions.cursor ?? board.cursors[name];
    return;
  }
  const item = payload.data?.[FEEDS[name].field];
  if (!item) return;
  if (FEEDS[name].resumable && item.cursor) board.cursors[name] = item.cursor;
  HANDLERS[name](item);
}

function onOperationError(id, errors) {
  const name = link.ops.get(id);
  if (!name) return;
  link.ops.delete(id);
  const list = Array.isArray(errors) ? errors : [errors];
  if (list.some((error) => error.extensions?.code === 'UNAUTHENTICATED')) {
    askForKey('The server refused the API key.');
    return;
  }
  console.error(`subscription ${name} refused:`, list);
  setConnection('live', `Live, but ${name} refused: ${list[0]?.message ?? 'unknown error'}`);
}

// The server ended a feed (it fell behind, or stopped it): subscribe again
// from its cursor, after a pause so that a feed that keeps ending cannot spin.
function onComplete(id) {
  const name = link.ops.get(id);
  if (!name) return;
  link.ops.delete(id);
  const ws = link.ws;
  setTimeout(() => {
    // A new connection has subscribed every feed already.
    if (link.ws === ws && link.acked) subscribe(name);
  }, BACKOFF_MIN_MS);
}

function onClose(event) {
  link.ws = null;
  link.acked = false;
  link.ops.clear();
  // 4403: connection_init was refused, i.e. the key is missing or wrong.
  if (event.code === 4403) {
    askForKey('The server refused the API key.');
    return;
  }
  const why = event.code === 1001 ? 'The server went away' : 'The connection was lost';
  scheduleReconnect(`${why} (${event.code}).`);
}

function scheduleReconnect(why) {
  clearTimeout(link.timer);
  const delay = backoff(link.attempts++);
  goOffline(`${why} Reconnecting in ${seconds(delay)}…`);
  link.waiting = true;
  link.timer = setTimeout(connect, delay);
}

function reconnectNow() {
  if (link.waiting) connect();
}

// Exponential steps with jitter: every board behind a restarted server
// would otherwise come back in the same instant.
function backoff(attempt) {
  const step = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return step / 2 + Math.random() * (step / 2);
}

// Every few seconds: keep the link alive, and notice when it is dead.
function tick() {
  const ws = link.ws;
  if (!ws) return;
  const now = Date.now();
  if (!link.acked && now - link.openedAt > CONNECT_TIMEOUT_MS) {
    closeSocket();
    scheduleReconnect('The server did not answer.');
  } else if (link.acked && now - link.lastHeard > SILENCE_MS) {
    closeSocket();
    scheduleReconnect('The server went silent.');
  } else if (link.acked && now - link.lastPing > PING_EVERY_MS) {
    link.lastPing = now;
    send({ type: 'ping' });
  }
}

// ---- Feeds -----------------------------------------------------------------

const HANDLERS = {
  statuses: onStatusItem,
  counts: renderCounts,
  sessions: onSessionItem,
  cdrs: onCdrItem,
};

function onStatusItem(item) {
  if (item.kind === 'RESET') {
    // The cursor was too old: forget what we hold; a snapshot follows, and
    // the location list may have changed as well.
    board.statuses.clear();
    board.asked.clear();
    reloadLocationsSoon();
    return;
  }
  const key = tileKey(item.countryCode, item.partyId, item.locationId, item.uid);
  const state = { status: item.status, raw: item.statusRaw, since: item.changedAt, kind: item.kind };
  board.statuses.set(key, state);
  const tile = board.tiles.get(key);
  if (tile) paintTile(tile, state);
  else reloadLocationsSoon(key);
}

function onSessionItem(item) {
  if (item.kind === 'RESET') return clearFeed('session');
  const key = `session:${tileKey(item.countryCode, item.partyId, item.sessionId)}`;
  board.feed.set(key, {
    key,
    kind: 'session',
    id: item.sessionId,
    what: `Session ${item.status ?? ''}`.trim(),
    where: place(item),
    detail: item.kwh ? `${item.kwh} kWh` : '',
    at: item.session?.receivedAt ?? null,
    order: Number(item.cursor),
  });
  renderFeedSoon();
  return undefined;
}

function onCdrItem(item) {
  if (item.kind === 'RESET') return clearFeed('cdr');
  const key = `cdr:${tileKey(item.countryCode, item.partyId, item.cdrId)}`;
  const cdr = item.cdr ?? {};
  const cost = cdr.totalCost ? `${cdr.totalCost} ${cdr.currency ?? ''}`.trim() : '';
  const energy = cdr.totalEnergy ? `${cdr.totalEnergy} kWh` : '';
  board.feed.set(key, {
    key,
    kind: 'cdr',
    id: item.cdrId,
    what: `CDR ${item.cdrId}`,
    where: place(item),
    detail: [energy, cost].filter(Boolean).join(' · '),
    at: cdr.receivedAt ?? null,
    order: Number(item.cursor),
  });
  renderFeedSoon();
  return undefined;
}

function clearFeed(kind) {
  for (const [key, entry] of board.feed) {
    if (entry.kind === kind) board.feed.delete(key);
  }
  renderFeedSoon();
}

// "Gent Zuid · BE-BEC-E041503001": the location's name when the grid has it.
function place(item) {
  const location = board.locations.find((l) => sameLocation(l, item));
  const name = location?.name ?? item.locationId ?? '';
  return [name, item.evseUid].filter(Boolean).join(' · ');
}

function sameLocation(location, item) {
  return tileKey(location.countryCode, location.partyId, location.ocpiId)
    === tileKey(item.countryCode, item.partyId, item.locationId ?? '');
}

// ---- Rendering -------------------------------------------------------------

// EVSE uids are case-insensitive keys within a party's location (OCPI ids).
function tileKey(...parts) {
  return JSON.stringify(parts.map((part) => String(part ?? '').toUpperCase()));
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderGrid() {
  board.tiles.clear();
  const cards = board.locations.map(renderLocation);
  const grid = $('#grid');
  if (cards.length === 0) cards.push(element('p', 'empty', 'No locations match these filters.'));
  grid.replaceChildren(...cards);
  grid.setAttribute('aria-busy', 'false');
}

function renderLocation(location) {
  const party = `${location.countryCode}/${location.partyId}`;
  const card = element('section', 'location');
  card.dataset.location = location.ocpiId;
  card.dataset.party = party;
  const title = element('h2', null, location.name ?? location.ocpiId);
  const where = element('p', 'where', [location.city, party].filter(Boolean).join(' · '));
  const tiles = element('ul', 'tiles');
  for (const evse of location.evses) tiles.append(renderTile(location, evse, party));
  card.append(title, where, tiles);
  return card;
}

function renderTile(location, evse, party) {
  const key = tileKey(location.countryCode, location.partyId, location.ocpiId, evse.uid);
  const node = element('li', 'tile');
  node.dataset.location = location.ocpiId;
  node.dataset.party = party;
  node.dataset.evseUid = evse.uid;
  node.append(
    element('span', 'tile-status'),
    element('span', 'tile-name', evse.evseId ?? evse.uid),
    element('time', 'tile-since'),
  );
  const tile = { element: node, location, evse };
  board.tiles.set(key, tile);
  const fromQuery = { status: evse.status ?? 'UNKNOWN', raw: evse.statusRaw, since: evse.statusSince };
  paintTile(tile, board.statuses.get(key) ?? fromQuery);
  return node;
}

// Colour (through data-status), status word, since-when and the spoken label.
function paintTile(tile, state) {
  const node = tile.element;
  node.dataset.status = state.status;
  node.dataset.since = state.since ?? '';
  // How the status came: SNAPSHOT, REPLAY (resumed by cursor) or LIVE;
  // none when it is still the location query's.
  if (state.kind) node.dataset.feedKind = state.kind;
  node.querySelector('.tile-status').textContent = statusWord(state.status, state.raw);
  const since = node.querySelector('.tile-since');
  since.dateTime = state.since ?? '';
  since.title = state.since ? new Date(state.since).toLocaleString() : '';
  labelTile(tile);
}

function labelTile(tile) {
  const node = tile.element;
  const since = node.dataset.since;
  const ago = since ? relative(since) : '';
  node.querySelector('.tile-since').textContent = ago;
  const name = tile.evse.evseId ?? tile.evse.uid;
  const where = tile.location.name ?? tile.location.ocpiId;
  const word = node.querySelector('.tile-status').textContent;
  node.setAttribute('aria-label', `EVSE ${name} at ${where}: ${word}${ago ? `, for ${ago}` : ''}`);
}

function statusWord(status, raw) {
  if (status === 'OTHER' && raw) return raw;
  return STATUS_WORDS[status] ?? status;
}

function renderCounts(update) {
  const totals = new Map();
  for (const { status, count } of update.counts) {
    const key = status ?? 'UNKNOWN';
    totals.set(key, (totals.get(key) ?? 0) + count);
  }
  const items = STATUS_ORDER.filter((status) => totals.get(status) > 0)
    .map((status) => countItem(status, STATUS_WORDS[status], totals.get(status)));
  items.unshift(countItem('ALL', 'EVSEs', update.total));
  $('#counts').replaceChildren(...items);
}

function countItem(status, word, count) {
  const item = element('li', 'count');
  item.dataset.status = status;
  item.append(element('span', 'count-n', String(count)), element('span', 'count-word', word));
  return item;
}

// Snapshots arrive as bursts of items: draw the feed once per burst.
function renderFeedSoon() {
  if (board.renderTimer !== null) return;
  board.renderTimer = setTimeout(() => {
    board.renderTimer = null;
    renderFeed();
  }, 50);
}

function renderFeed() {
  const entries = [...board.feed.values()].sort(newestFirst);
  // Keep memory bounded on a board that runs for weeks.
  for (const stale of entries.slice(FEED_LENGTH * 4)) board.feed.delete(stale.key);
  $('#feed').replaceChildren(...entries.slice(0, FEED_LENGTH).map(feedItem));
}

// By receive time; a snapshot's items share one cursor, so that comes second.
function newestFirst(a, b) {
  const at = (entry) => (entry.at ? Date.parse(entry.at) : 0);
  return at(b) - at(a) || b.order - a.order;
}

function feedItem(entry) {
  const item = element('li', 'feed-item');
  item.dataset.kind = entry.kind;
  item.dataset.id = entry.id;
  item.append(element('span', 'feed-what', entry.what));
  if (entry.where) item.append(element('span', 'feed-where', entry.where));
  const when = element('time', 'feed-when');
  when.dateTime = entry.at ?? '';
  when.textContent = [entry.detail, entry.at ? relative(entry.at) : ''].filter(Boolean).join(' · ');
  item.dataset.detail = entry.detail;
  item.append(when);
  return item;
}

// ---- Connection state and time -------------------------------------------

function setConnection(state, text) {
  document.body.dataset.connection = state;
  $('#connection').textContent = text;
}

function goLive() {
  setConnection('live', 'Live');
  $('#offline').hidden = true;
}

function goOffline(detail) {
  setConnection('offline', 'Offline');
  $('#offline-detail').textContent = detail;
  $('#offline').hidden = false;
}

function seconds(ms) {
  return `${Math.max(1, Math.round(ms / 1000))} s`;
}

// "3 min", "2 h", "5 d": since-when as a wall board is read, at a glance.
function relative(iso, now = Date.now()) {
  const elapsed = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (Number.isNaN(elapsed)) return '';
  if (elapsed < 60) return '< 1 min';
  if (elapsed < 3600) return `${Math.floor(elapsed / 60)} min`;
  if (elapsed < 48 * 3600) return `${Math.floor(elapsed / 3600)} h`;
  if (elapsed < 365 * 86400) return `${Math.floor(elapsed / 86400)} d`;
  return `${Math.floor(elapsed / (365.25 * 86400))} yr`;
}

function refreshTimes() {
  board.tiles.forEach(labelTile);
  renderFeed();
}

start();
