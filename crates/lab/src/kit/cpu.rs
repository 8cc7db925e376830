//! CPU time per process, read from /proc (the harness reads it; the lab's
//! own processes, such as a generator thread's, are read the same way).

pub use harness::cpu::process_cpu_time as cpu_time;
