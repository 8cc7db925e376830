//! The attack corpus of claim C12: forged, tampered and invalid access
//! tokens, built against a real key set.
//!
//! A JWT server has to be attacked to be trusted, and the attacks have to be
//! the same ones wherever they are run. Two places run them:
//!
//! * the JWT server's own tests send every token to a real node and expect
//!   `401 invalid_token` for each, and check that its fast verifier and
//!   jsonwebtoken's agree on all of them;
//! * the lab's experiment `c12` sends them to a real node too, and to a
//!   deliberately naive verifier with one check at a time, to show what
//!   each check prevents.
//!
//! So the corpus lives here, on its own, depending only on the JWT server
//! (for its key sets): the server's tests do not depend on the lab, and the
//! lab uses the corpus like any other library.
//!
//! [`corpus`] builds the hostile tokens; [`forge`] holds the minting steps
//! they share, and [`genuine`] is the positive control: a token made the
//! same way that the server must *accept*.

mod corpus;
mod error;
pub mod forge;

pub use corpus::{corpus, Attack};
pub use error::CorpusError;
pub use forge::{claims, encoding_key, genuine, header, naive_key_bytes, sign};
