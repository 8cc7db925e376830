//! The experiment framework: what an experiment declares, and the runner
//! that does everything else.
//!
//! An experiment answers claims of `docs/claims.md` from numbers it measures.
//! Written as one function, that is a cluster to start, trials to schedule,
//! figures to reduce, a rule to apply, tables and prose to write, and the
//! bookkeeping of a result; the judging then cannot be tested without the
//! measuring, and a sentence of the lesson can quote a number the summary
//! never held. So an experiment is split by stage, after criterion's split
//! of measurement, analysis and reporting:
//!
//! ```text
//! about      id, title, claims, question, estimated time      (a constant)
//! measure    the run: clusters, trials through kit::schedule  -> Raw
//! summarize  Raw -> Summary: medians, spreads, what was seen  (pure)
//! judge      Summary -> a verdict per claim, by a stated rule (pure)
//! present    Raw + Summary -> set-up, tables, chart, lesson   (pure)
//! ```
//!
//! An experiment implements [`Experiment`]; the runner ([`Runnable`], which
//! every `Experiment` is) times it, fills in the id, title, claims and
//! duration, turns an error into inconclusive verdicts, and writes the run.
//! Only `measure` touches the machine, so a verdict rule and the report's
//! sentences are tested with hand-made summaries, including a broken
//! set-up's.
//!
//! The clusters come from the run's engine ([`EngineChoice`], `--engine`):
//! the experiments never name it, and [`RunContext::cluster`] records where
//! each cluster's parts ran. An experiment that needs what only the local
//! engine gives (a process id to read `/proc` by, the latency proxy) says
//! so in [`Experiment::LOCAL_ONLY`]; on another engine the run leaves it
//! out and lists it with that reason ([`Plan`]).

mod context;
mod declare;
mod engine;
mod placements;
mod progress;
mod runner;

pub use context::RunContext;
pub use declare::{About, Experiment, Outcome, Presentation, Runnable};
pub use engine::{image_tag, EngineChoice};
pub use placements::KEPT_PLACEMENTS;
pub use runner::{environment_of, run_id, run_these, Derive, Plan, RunSettings};
