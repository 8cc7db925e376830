//! What both stacks must do alike, run against the JWT stack: login
//! throttling, bad input, logout-all against a racing login
//! (`testkit::suite` has the checks; the session stack runs the same ones).

testkit::shared_suite!(testkit::suite::Jwt);
