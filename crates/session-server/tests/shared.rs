//! What both stacks must do alike, run against the session stack: login
//! throttling, bad input, logout-all against a racing login
//! (`testkit::suite` has the checks; the JWT stack runs the same ones).

testkit::shared_suite!(testkit::suite::Session);
