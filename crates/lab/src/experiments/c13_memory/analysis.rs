//! c13's figures and rule: bytes per login on each side, and whether a JWT
//! login costs the store anything.
//!
//! The claim is that sessions cost server memory per user and JWTs none.
//! The JWT stack as built also keeps a refresh token per login, so two JWT
//! figures are kept apart: the stack as built, which the claim is judged
//! on, and the same logins with their refresh-token keys deleted, which
//! shows whether anything besides the refresh token stays.

use serde::Serialize;

use super::measure::Raw;
use crate::results::{ClaimVerdict, Verdict};

/// What c13 measured, per stack: the figures its rule and headline read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MemoryFigures {
    pub session_logins: usize,
    pub jwt_logins: usize,
    /// Store bytes per session login.
    pub session_bytes_per_login: f64,
    /// Store bytes per JWT login, the stack as built (with its refresh token).
    pub jwt_bytes_per_login: f64,
    /// Store bytes the same JWT logins left once their refresh-token keys
    /// were deleted: what an access token alone costs the store.
    pub access_only_bytes_per_login: f64,
}

/// Below this share of a session's store bytes a JWT login counts as costing
/// none: `used_memory` moves by a few bytes per login whenever Redis resizes
/// a key table, whoever wrote the keys.
pub const NONE_SHARE: f64 = 0.1;

/// C13's rule. The claim is judged on the JWT stack as built, refresh
/// tokens included (C10: staying logged in needs them); the access-token-only
/// figure is shown beside it and counts only where it also grew the store.
pub fn c13_verdict(f: &MemoryFigures) -> Verdict {
    let none = NONE_SHARE * f.session_bytes_per_login;
    if f.session_logins == 0 || f.jwt_logins == 0 {
        Verdict::Inconclusive("logins failed".into())
    } else if f.session_bytes_per_login <= 0.0 {
        Verdict::DoesNotHold("sessions did not grow the store".into())
    } else if f.access_only_bytes_per_login > none {
        Verdict::DoesNotHold(format!(
            "even with their refresh-token keys deleted, JWT logins left {:.0} B each in the store (a session: {:.0} B)",
            f.access_only_bytes_per_login, f.session_bytes_per_login
        ))
    } else if f.jwt_bytes_per_login > none {
        Verdict::DoesNotHold(format!(
            "the JWT stack as built costs {:.0} B of store memory per login against {:.0} B per session: its refresh \
             tokens, which staying logged in needs (C10), are server state; its access tokens alone cost {:.0} B per \
             login",
            f.jwt_bytes_per_login, f.session_bytes_per_login, f.access_only_bytes_per_login
        ))
    } else {
        Verdict::Holds
    }
}

/// The one figure of the run for the first screen.
pub fn c13_headline(f: &MemoryFigures) -> String {
    if f.session_logins == 0 || f.jwt_logins == 0 {
        return format!(
            "{} session and {} JWT logins succeeded",
            f.session_logins, f.jwt_logins
        );
    }
    format!(
        "store per login: session {:.0} B, JWT as built {:.0} B (access token alone {:.0} B)",
        f.session_bytes_per_login, f.jwt_bytes_per_login, f.access_only_bytes_per_login
    )
}

pub const C13_RULE: &str = "judged on the JWT stack as built (refresh tokens included). Inconclusive when every login of \
    either stack failed; does not hold when session logins did not grow the store, or when JWT logins grew it by more \
    than 10% of a session's bytes, as built or with their refresh-token keys deleted; holds otherwise. Node RSS is \
    reported, not judged.";

/// What the design decides in c13, not the run.
pub const C13_BY_DESIGN: &str = "The JWT server never writes an access token to the store, and it always issues a refresh \
    token with one: there is no configuration without refresh tokens to measure. The access-token-only figure is \
    therefore the same JWT logins measured again after deleting their refresh-token keys (refresh, family, user index, \
    DPoP binding), which shows what else a login left; running the stack without refresh tokens would take a server \
    mode that skips them at login and refuses /token/refresh.";

/// What the verdict and the report read: the per-login figures and the
/// counts the evidence quotes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub figures: MemoryFigures,
    /// Keys left in the token store after the refresh-token deletion.
    pub tokens_left: u64,
    pub session_key_bytes: u64,
    pub index_key_bytes: u64,
}

/// Bytes per login, 0 when no login succeeded.
fn per(bytes: i64, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        bytes as f64 / n as f64
    }
}

pub fn summarize(raw: &Raw) -> Summary {
    let (session, jwt) = (&raw.session, &raw.jwt);
    Summary {
        figures: MemoryFigures {
            session_logins: session.logins,
            jwt_logins: jwt.logins,
            session_bytes_per_login: per(session.store_bytes as i64, session.logins),
            jwt_bytes_per_login: per(jwt.store_bytes as i64, jwt.logins),
            access_only_bytes_per_login: per(raw.access_only_store_bytes, jwt.logins),
        },
        tokens_left: raw.token_keys.left,
        session_key_bytes: raw.memory_usage.session_key,
        index_key_bytes: raw.memory_usage.index_key,
    }
}

pub fn judge(s: &Summary) -> ClaimVerdict {
    let f = &s.figures;
    let (session_per, session_n) = (f.session_bytes_per_login, f.session_logins);
    let (jwt_per, jwt_n) = (f.jwt_bytes_per_login, f.jwt_logins);
    let access_per = f.access_only_bytes_per_login;
    let (tokens_left, session_key_bytes, index_key_bytes) =
        (s.tokens_left, s.session_key_bytes, s.index_key_bytes);
    ClaimVerdict {
        headline: c13_headline(f),
        by_design: Some(C13_BY_DESIGN.into()),
        claim: "C13".into(),
        verdict: c13_verdict(f),
        rule: C13_RULE.into(),
        evidence: format!(
            "session: {session_per:.0} B per login ({session_n} logins); JWT as built: {jwt_per:.0} B per \
             login ({jwt_n} logins); JWT with the refresh-token keys deleted: {access_per:.0} B per login \
             ({tokens_left} keys left in the token store); one session key {session_key_bytes} B + index \
             {index_key_bytes} B"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::c13_memory::measure::{KeyUsage, StackMemory, TokenKeys};

    fn figures(session: f64, jwt: f64, access: f64) -> MemoryFigures {
        MemoryFigures {
            session_logins: 2_000,
            jwt_logins: 2_000,
            session_bytes_per_login: session,
            jwt_bytes_per_login: jwt,
            access_only_bytes_per_login: access,
        }
    }

    #[test]
    fn c13_rule() {
        // A JWT stack that keeps nothing per login (none today: see
        // C13_BY_DESIGN); a few bytes of table resizing are "none".
        assert_eq!(c13_verdict(&figures(676.0, 0.0, 0.0)), Verdict::Holds);
        assert_eq!(c13_verdict(&figures(676.0, 60.0, -3.0)), Verdict::Holds);
        // The sample run: the stack as built costs as much as sessions.
        assert_eq!(
            c13_verdict(&figures(676.0, 670.0, 1.0)),
            Verdict::DoesNotHold(
                "the JWT stack as built costs 670 B of store memory per login against 676 B per session: its refresh \
                 tokens, which staying logged in needs (C10), are server state; its access tokens alone cost 1 B per \
                 login"
                    .into()
            )
        );
        assert!(matches!(
            c13_verdict(&figures(676.0, 68.0, 0.0)),
            Verdict::DoesNotHold(m) if m.starts_with("the JWT stack as built")
        ));
        assert_eq!(
            c13_verdict(&figures(0.0, 0.0, 0.0)),
            Verdict::DoesNotHold("sessions did not grow the store".into())
        );
        assert!(matches!(
            c13_verdict(&figures(-5.0, 0.0, 0.0)),
            Verdict::DoesNotHold(_)
        ));
        let failed = MemoryFigures {
            session_logins: 0,
            ..figures(676.0, 0.0, 0.0)
        };
        assert_eq!(
            c13_verdict(&failed),
            Verdict::Inconclusive("logins failed".into())
        );
        assert!(matches!(
            c13_verdict(&MemoryFigures {
                jwt_logins: 0,
                ..figures(0.0, 0.0, 0.0)
            }),
            Verdict::Inconclusive(_)
        ));
        assert_eq!(
            c13_headline(&figures(676.2, 669.6, 0.4)),
            "store per login: session 676 B, JWT as built 670 B (access token alone 0 B)"
        );
        assert_eq!(
            c13_headline(&failed),
            "0 session and 2000 JWT logins succeeded"
        );
    }

    fn stack(logins: usize, store_bytes: u64) -> StackMemory {
        StackMemory {
            logins,
            store_before: 1_000_000,
            store_bytes,
            rss_delta: 0,
            rss_after: 0,
        }
    }

    fn raw(session: StackMemory, jwt: StackMemory, access_only_store_bytes: i64) -> Raw {
        Raw {
            users: 2_000,
            session,
            jwt,
            access_only_store_bytes,
            token_keys: TokenKeys {
                before: 0,
                after: 8_000,
                left: 0,
                deleted: Vec::new(),
            },
            memory_usage: KeyUsage {
                session_key: 520,
                index_key: 90,
            },
        }
    }

    /// The stages after `measure`, on readings made by hand: per-login
    /// figures, and a run whose session logins all failed (no division by
    /// zero, no verdict).
    #[test]
    fn bytes_per_login_and_failed_logins() {
        let summary = summarize(&raw(stack(2_000, 1_352_000), stack(2_000, 1_340_000), 800));
        assert_eq!(summary.figures, figures(676.0, 670.0, 0.4));
        assert_eq!(
            judge(&summary).evidence,
            "session: 676 B per login (2000 logins); JWT as built: 670 B per login (2000 logins); JWT with the \
             refresh-token keys deleted: 0 B per login (0 keys left in the token store); one session key 520 B + \
             index 90 B"
        );
        let failed = summarize(&raw(stack(0, 4_096), stack(2_000, 1_340_000), 800));
        assert_eq!(failed.figures.session_bytes_per_login, 0.0);
        let verdict = judge(&failed);
        assert_eq!(
            verdict.verdict,
            Verdict::Inconclusive("logins failed".into())
        );
        assert_eq!(verdict.headline, "0 session and 2000 JWT logins succeeded");
    }

    /// A broken set-up: a JWT stack that writes something per login besides
    /// its refresh token (say, every access token's id) must not pass as
    /// "access tokens cost none".
    #[test]
    fn state_left_beside_the_refresh_token_turns_the_verdict() {
        assert!(matches!(
            c13_verdict(&figures(676.0, 900.0, 230.0)),
            Verdict::DoesNotHold(m) if m.starts_with("even with their refresh-token keys deleted, JWT logins left 230 B")
        ));
        assert!(matches!(
            c13_verdict(&figures(676.0, 60.0, 200.0)),
            Verdict::DoesNotHold(m) if m.contains("left 200 B each")
        ));
    }
}
