//! Reliability (issue 12): each finding from reading the code, as a test that failed before
//! its fix (`races`), and the fault scenarios, one module each, bounded in count and time
//! (the load several of them put on the server is `storm`). Figures the scenarios print are
//! recorded in docs/reliability.md.

mod comment_storm;
mod database_restart;
mod disk;
mod pool_exhaustion;
mod races;
mod sigterm;
mod storm;
mod two_apis_two_workers;
mod worker_killed;
