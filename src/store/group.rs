//! Group commit: many pushes in one transaction, each in its own savepoint,
//! each answered only after the transaction holding its writes committed.
//!
//! A writer task takes whatever jobs are queued (up to the batch size),
//! opens one write transaction and runs the jobs in it one after the other.
//! It first runs them bare: almost every push keeps its writes, and a
//! savepoint costs two statements (two round trips to the database) per
//! job. When a job does not keep its writes (it refuses its push, or lost a
//! race), the whole transaction is rolled back and the batch runs again with
//! each job inside a savepoint, so that such a job rolls back only its own
//! savepoint. The change events of the kept jobs are written at the end,
//! just before the commit, and every job is answered once the commit
//! returned. One commit (one WAL append on SQLite, one WAL flush on
//! PostgreSQL) then covers the whole batch.
//!
//! SQLite has one writer task (it allows one writer anyway). PostgreSQL has
//! several, so that one batch is being applied while another waits for its
//! WAL flush; their batches are sorted by lock key, so that concurrent
//! batches (and other replicas' batches) lock rows in one global order and
//! cannot deadlock, and the outbox ordering lock is taken last, just before
//! the commit (see `outbox`), so it is held for the commit alone.
//!
//! When anything fails at the level of the batch (a savepoint that cannot be
//! rolled back, the event insert, the commit, a deadlock), the whole batch is
//! rolled back and each of its jobs runs again alone, so that one push's
//! failure never becomes another push's answer.

use futures::future::BoxFuture;
use sea_orm::{DatabaseTransaction, DbBackend, TransactionTrait};
use tokio::sync::{mpsc, Mutex};

use super::conflict::{self, MAX_ATTEMPTS};
use super::outbox::{self, NewEvent};
use super::{Store, StoreError};

/// What a job's run asks of its savepoint.
pub enum Step {
    /// Keep the job's writes.
    Keep,
    /// Roll the job's writes back; the job holds its answer (a refusal or a failure).
    Undo,
    /// Roll back: the job lost a race with another transaction and may succeed when run again.
    Conflict(StoreError),
}

/// One unit of work for the group-commit writer.
pub trait Job: Send {
    /// The key of the rows the job locks first; batches run their jobs in
    /// this order on PostgreSQL (a stable sort keeps the arrival order of
    /// jobs on one object).
    fn lock_key(&self) -> &str;

    /// Applies the job inside the batch transaction (or its own savepoint).
    /// Events go to `events`; they are written only if the job is kept. It
    /// may run more than once (after a conflict, or alone after its batch failed).
    fn run<'a>(
        &'a mut self,
        txn: &'a DatabaseTransaction,
        events: &'a mut Vec<NewEvent>,
    ) -> BoxFuture<'a, Step>;

    /// Answers the job: `Ok` once its kept writes are committed (or it was
    /// undone and the batch is over), otherwise what kept them from committing.
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
}

/// Jobs waiting for a writer.
type Queue = mpsc::Receiver<Box<dyn Job>>;

/// The writers' settings.
#[derive(Debug, Clone, Copy)]
pub struct GroupOptions {
    /// Most jobs in one transaction (1: every job alone).
    pub batch_max: usize,
    /// Writer tasks, each with its own transaction at a time.
    pub writers: usize,
}

/// Handle on the writer tasks; cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Box<dyn Job>>,
}

/// Jobs queued before submitters wait for room.
const QUEUE_CAPACITY: usize = 8192;

impl GroupCommit {
    /// Starts the writer tasks over `store`; they stop when the last handle is dropped.
    pub(super) fn start(store: Store, options: GroupOptions) -> GroupCommit {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let receiver = std::sync::Arc::new(Mutex::new(receiver));
        for _ in 0..options.writers.max(1) {
            let writer = Writer {
                store: store.clone(),
                batch_max: options.batch_max.max(1),
            };
            tokio::spawn(writer.run(receiver.clone()));
        }
        GroupCommit { queue: sender }
    }

    /// Queues a job; its `finish` answers it.
    pub async fn submit(&self, job: Box<dyn Job>) -> Result<(), StoreError> {
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::WriterStopped)
    }
}

/// One writer task.
struct Writer {
    /// A store without group commit of its own (the writers hold no handle
    /// on their own queue, so dropping the last `Store` stops them).
    store: Store,
    batch_max: usize,
}

/// Why a batch stopped before its commit; its jobs are handed back, unanswered.
enum Stop {
    /// A job run without a savepoint did not keep its writes.
    Unkept,
    /// The batch failed as a whole.
    Failed(StoreError),
}

/// Whether the jobs of a batch run in savepoints of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Bare: the first job that does not keep its writes stops the batch.
    Bare,
    /// Each job in its savepoint.
    Savepoints,
}

impl Writer {
    async fn run(self, queue: std::sync::Arc<Mutex<Queue>>) {
        loop {
            let Some(jobs) = self.next_batch(&queue).await else {
                return;
            };
            let ran = match self.run_batch(jobs, Guard::Bare).await {
                Err((jobs, Stop::Unkept)) => self.run_batch(jobs, Guard::Savepoints).await,
                ran => ran,
            };
            match ran {
                Ok(()) => {}
                Err((jobs, Stop::Failed(err))) => self.run_alone_each(jobs, Some(err)).await,
                // Not raised with savepoints; should it be, alone each job keeps or undoes its own writes.
                Err((jobs, Stop::Unkept)) => self.run_alone_each(jobs, None).await,
            }
        }
    }

    /// Waits for one job, then takes whatever else is queued, up to the batch size.
    async fn next_batch(&self, queue: &Mutex<Queue>) -> Option<Vec<Box<dyn Job>>> {
        let mut queue = queue.lock().await;
        let first = queue.recv().await?;
        let mut jobs = vec![first];
        while jobs.len() < self.batch_max {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        Some(jobs)
    }

    /// After a batch failed as a whole (`err`): each job again in its own
    /// transaction, retried after a pause when it conflicts.
    async fn run_alone_each(&self, jobs: Vec<Box<dyn Job>>, err: Option<StoreError>) {
        if jobs.len() > 1 {
            let error = err.as_ref().map(ToString::to_string);
            tracing::debug!(
                jobs = jobs.len(),
                error,
                "batch failed, running its jobs alone"
            );
        }
        let mut first_error = err;
        for job in jobs {
            self.run_alone(job, first_error.take()).await;
        }
    }

    async fn run_alone(&self, mut job: Box<dyn Job>, mut last: Option<StoreError>) {
        let mut attempt = 0;
        loop {
            if let Some(err) = last.take() {
                if !err.is_conflict() {
                    // Not a race: whatever failed the batch is retried once, alone.
                    if attempt > 0 {
                        job.finish(Err(err));
                        return;
                    }
                } else if attempt + 1 >= MAX_ATTEMPTS {
                    job.finish(Err(err));
                    return;
                } else if attempt > 0 {
                    tracing::debug!(retry = attempt, error = %err, "write conflicted with another writer");
                    tokio::time::sleep(conflict::backoff(attempt)).await;
                }
            }
            attempt += 1;
            match self.run_batch(vec![job], Guard::Savepoints).await {
                Ok(()) => return,
                Err((mut jobs, stop)) => match jobs.pop() {
                    Some(back) => {
                        job = back;
                        last = match stop {
                            Stop::Failed(err) => Some(err),
                            // Alone, a job's transaction is its savepoint: not raised.
                            Stop::Unkept => None,
                        };
                    }
                    None => return,
                },
            }
        }
    }

    /// Runs the jobs in one transaction and answers them after its commit;
    /// when it stops before (a bare job that did not keep its writes, or a
    /// failure of the batch as a whole), rolls back and hands the jobs back.
    async fn run_batch(
        &self,
        mut jobs: Vec<Box<dyn Job>>,
        guard: Guard,
    ) -> Result<(), (Vec<Box<dyn Job>>, Stop)> {
        if self.store.backend() == DbBackend::Postgres {
            jobs.sort_by(|a, b| a.lock_key().cmp(b.lock_key()));
        }
        let write = match self.store.begin_write().await {
            Ok(write) => write,
            Err(err) => return Err((jobs, Stop::Failed(err))),
        };
        let mut events = Vec::new();
        if let [job] = jobs.as_mut_slice() {
            // Alone, the transaction is the job's savepoint.
            match job.run(&write.txn, &mut events).await {
                Step::Keep => {}
                Step::Undo => {
                    let _ = write.txn.rollback().await;
                    finish_all(jobs);
                    return Ok(());
                }
                Step::Conflict(err) => {
                    let _ = write.txn.rollback().await;
                    return Err((jobs, Stop::Failed(err)));
                }
            }
        } else {
            for index in 0..jobs.len() {
                let job = jobs[index].as_mut();
                let ran = match guard {
                    Guard::Bare => match job.run(&write.txn, &mut events).await {
                        Step::Keep => Ok(()),
                        Step::Undo | Step::Conflict(_) => Err(Stop::Unkept),
                    },
                    Guard::Savepoints => run_in_savepoint(&write.txn, job, &mut events)
                        .await
                        .map_err(Stop::Failed),
                };
                if let Err(stop) = ran {
                    let _ = write.txn.rollback().await;
                    return Err((jobs, stop));
                }
            }
        }
        if let Err(err) = outbox::insert_all(&write.txn, events).await {
            let _ = write.txn.rollback().await;
            return Err((jobs, Stop::Failed(err)));
        }
        if let Err(err) = write.commit().await {
            return Err((jobs, Stop::Failed(err)));
        }
        finish_all(jobs);
        Ok(())
    }
}

fn finish_all(jobs: Vec<Box<dyn Job>>) {
    for job in jobs {
        job.finish(Ok(()));
    }
}

/// Runs a job in a savepoint of the batch transaction; a job that lost a
/// race for a new row (unique violation) runs again at once, as the winner
/// has committed by the time the error is raised. An error means the batch
/// as a whole cannot go on.
async fn run_in_savepoint(
    txn: &DatabaseTransaction,
    job: &mut dyn Job,
    events: &mut Vec<NewEvent>,
) -> Result<(), StoreError> {
    let mut attempt = 1;
    loop {
        let savepoint = txn.begin().await?;
        let mut emitted = Vec::new();
        match job.run(&savepoint, &mut emitted).await {
            Step::Keep => {
                savepoint.commit().await?;
                events.append(&mut emitted);
                return Ok(());
            }
            Step::Undo => {
                savepoint.rollback().await?;
                return Ok(());
            }
            Step::Conflict(err) => {
                savepoint.rollback().await?;
                let unique = err.sqlstate().as_deref() == Some(conflict::UNIQUE_VIOLATION);
                if !unique || attempt >= MAX_ATTEMPTS {
                    return Err(err);
                }
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The writer over a real database (SQLite, or PostgreSQL when
    //! CHARGEGRAPH_TEST_DATABASE_URL is set), with probe jobs that write one
    //! row each into a scratch table.

    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
    use tokio::sync::oneshot;

    use super::*;
    use crate::store::testdb::TestDb;

    /// What a probe does each time it runs.
    #[derive(Clone, Copy, PartialEq)]
    enum Act {
        /// Writes its row and keeps it.
        Keep,
        /// Writes its row, then refuses (its savepoint is rolled back).
        Refuse,
        /// Fails its first two runs (not a race): the bare batch, then the
        /// one with savepoints. Keeps its row after.
        FailTwice,
    }

    /// How a probe was answered: the commit result, and how many rows of
    /// its name another connection saw at that moment.
    type Answer = (Result<(), String>, i64);

    struct Probe {
        name: String,
        act: Act,
        runs: Arc<AtomicU32>,
        /// Held on its first run: says it started, then waits to be released.
        hold: Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>,
        reader: DatabaseConnection,
        reply: Option<oneshot::Sender<Answer>>,
    }

    impl Job for Probe {
        fn lock_key(&self) -> &str {
            &self.name
        }

        fn run<'a>(
            &'a mut self,
            txn: &'a DatabaseTransaction,
            _events: &'a mut Vec<NewEvent>,
        ) -> BoxFuture<'a, Step> {
            Box::pin(async move {
                let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
                if let Some((started, release)) = self.hold.take() {
                    let _ = started.send(());
                    let _ = release.await;
                }
                let sql = format!("INSERT INTO probe (name) VALUES ('{}')", self.name);
                if let Err(err) = txn.execute_unprepared(&sql).await {
                    return Step::Conflict(err.into());
                }
                match self.act {
                    Act::Keep => Step::Keep,
                    Act::Refuse => Step::Undo,
                    Act::FailTwice if run <= 2 => {
                        Step::Conflict(StoreError::Corrupt("injected failure".into()))
                    }
                    Act::FailTwice => Step::Keep,
                }
            })
        }

        fn finish(mut self: Box<Self>, committed: Result<(), StoreError>) {
            // Looks from another connection at the moment of the answer.
            let sql = format!("SELECT COUNT(*) FROM probe WHERE name = '{}'", self.name);
            let reader = self.reader.clone();
            let seen = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async move {
                    let statement = Statement::from_string(reader.get_database_backend(), sql);
                    let row = reader.query_one_raw(statement).await.ok().flatten();
                    row.and_then(|r| r.try_get_by_index::<i64>(0).ok())
                        .unwrap_or(-1)
                })
            });
            if let Some(reply) = self.reply.take() {
                let _ = reply.send((committed.map_err(|e| e.to_string()), seen));
            }
        }
    }

    struct Bench {
        _db: TestDb,
        store: Store,
        group: GroupCommit,
    }

    /// A store with a scratch table and one writer taking up to 8 jobs a batch.
    async fn bench() -> Bench {
        let db = TestDb::create().await;
        let store = db.store().await;
        store
            .db()
            .execute_unprepared("CREATE TABLE probe (name TEXT NOT NULL)")
            .await
            .unwrap();
        let options = GroupOptions {
            batch_max: 8,
            writers: 1,
        };
        let group = GroupCommit::start(store.clone(), options);
        Bench {
            _db: db,
            store,
            group,
        }
    }

    struct Submitted {
        runs: Arc<AtomicU32>,
        answer: oneshot::Receiver<Answer>,
    }

    impl Bench {
        async fn submit(&self, name: &str, act: Act) -> Submitted {
            self.submit_held(name, act, None).await
        }

        async fn submit_held(
            &self,
            name: &str,
            act: Act,
            hold: Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>,
        ) -> Submitted {
            let runs = Arc::new(AtomicU32::new(0));
            let (reply, answer) = oneshot::channel();
            let probe = Probe {
                name: name.to_owned(),
                act,
                runs: runs.clone(),
                hold,
                reader: self.store.db().clone(),
                reply: Some(reply),
            };
            self.group.submit(Box::new(probe)).await.unwrap();
            Submitted { runs, answer }
        }

        /// Submits a job that holds the writer until the returned sender
        /// fires, and waits until it does: jobs submitted meanwhile form the
        /// next batch together.
        async fn hold_writer(&self) -> (oneshot::Sender<()>, Submitted) {
            let (started, has_started) = oneshot::channel();
            let (release, released) = oneshot::channel();
            let gate = self
                .submit_held("0-gate", Act::Keep, Some((started, released)))
                .await;
            has_started.await.unwrap();
            (release, gate)
        }
    }

    async fn answer(job: Submitted) -> (Answer, u32) {
        let answer = tokio::time::timeout(std::time::Duration::from_secs(10), job.answer)
            .await
            .expect("answered within 10 s")
            .expect("answered");
        (answer, job.runs.load(Ordering::SeqCst))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_whose_jobs_all_keep_runs_each_once() {
        let bench = bench().await;
        let (release, gate) = bench.hold_writer().await;
        let first = bench.submit("a-kept", Act::Keep).await;
        let second = bench.submit("b-kept", Act::Keep).await;
        release.send(()).unwrap();

        assert_eq!(answer(gate).await, ((Ok(()), 1), 1));
        assert_eq!(answer(first).await, ((Ok(()), 1), 1));
        assert_eq!(answer(second).await, ((Ok(()), 1), 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_job_in_a_batch_rolls_back_alone() {
        let bench = bench().await;
        let (release, gate) = bench.hold_writer().await;
        let first = bench.submit("a-kept", Act::Keep).await;
        let refused = bench.submit("b-refused", Act::Refuse).await;
        let last = bench.submit("c-kept", Act::Keep).await;
        release.send(()).unwrap();

        assert_eq!(answer(gate).await, ((Ok(()), 1), 1));
        // The bare run stopped at b and was rolled back; the batch ran again
        // with savepoints: kept rows are visible when answered, the refused
        // one's savepoint left nothing. c ran only in the second run.
        assert_eq!(answer(first).await, ((Ok(()), 1), 2));
        assert_eq!(answer(refused).await, ((Ok(()), 0), 2));
        assert_eq!(answer(last).await, ((Ok(()), 1), 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_runs_its_jobs_again_alone() {
        let bench = bench().await;
        let (release, gate) = bench.hold_writer().await;
        let first = bench.submit("a-kept", Act::Keep).await;
        let failing = bench.submit("b-fails-twice", Act::FailTwice).await;
        let last = bench.submit("c-kept", Act::Keep).await;
        release.send(()).unwrap();
        assert_eq!(answer(gate).await, ((Ok(()), 1), 1));

        // a ran bare, then with savepoints (both rolled back), then alone:
        // one row. b failed both batches, then succeeded alone. Both
        // batches stopped before c, which ran once, alone.
        assert_eq!(answer(first).await, ((Ok(()), 1), 3));
        assert_eq!(answer(failing).await, ((Ok(()), 1), 3));
        assert_eq!(answer(last).await, ((Ok(()), 1), 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_job_is_answered_after_its_own_rows_are_committed() {
        let bench = bench().await;
        let mut jobs = Vec::new();
        for n in 0..40 {
            jobs.push(bench.submit(&format!("job-{n:02}"), Act::Keep).await);
        }
        for job in jobs {
            let ((committed, seen), _) = answer(job).await;
            assert_eq!(committed, Ok(()));
            assert_eq!(seen, 1, "the answer came before its commit was visible");
        }
    }
}
