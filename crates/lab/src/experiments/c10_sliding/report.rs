//! What the report shows of c10: the active and idle users' outcomes, the
//! rotation and the replay, a bar per active user, and the lesson.

use super::{
    analysis::{counted, AccessAfterReplay, Observed},
    measure::access_window,
};
use crate::{
    experiment::Presentation,
    results::{Chart, ChartKind, Point, Series, Table},
};

/// The lesson's last sentences: what rotation and a replay did, as
/// measured, including the access token the replay could not reach.
pub fn replay_sentences(
    replay_status: u16,
    legit_after: u16,
    access: &AccessAfterReplay,
    access_ttl_s: f64,
) -> String {
    let refresh_side = if replay_status == 400 && legit_after == 400 {
        "the replayed refresh token was refused and so was the legitimate holder's newest one: the replay \
         revoked every refresh token of the login"
            .to_owned()
    } else {
        format!(
            "the replayed refresh token was answered {replay_status} and the legitimate holder's newest one \
             {legit_after}"
        )
    };
    let access_side = match access.last_accepted_s {
        Some(_) => format!(
            " It did not end the login's access token, though: the one issued by the last refresh was {}. A replay \
             stops further refreshes; an access token already out lives until its exp (revocation none), so a \
             thief who also holds one keeps it that long.",
            access.said(access_ttl_s)
        ),
        None => format!(
            " The access token issued by the last refresh was {}.",
            access.said(access_ttl_s)
        ),
    };
    format!(
        " Refresh tokens are server state, and rotation plus replay detection is what makes a stolen one \
         self-defeating: {refresh_side}.{access_side}"
    )
}

pub fn present(s: &Observed) -> Presentation {
    Presentation {
        setup: setup(s),
        tables: vec![users_table(s), rotation_table(s)],
        chart: Some(chart(s)),
        lesson: lesson(s),
    }
}

/// The verdict's evidence: every row of both tables, "step: result".
pub fn evidence(s: &Observed) -> String {
    let (users, rotation) = (users_table(s), rotation_table(s));
    users
        .rows
        .iter()
        .chain(&rotation.rows)
        .map(|r| r.join(": "))
        .collect::<Vec<_>>()
        .join("; ")
}

fn setup(s: &Observed) -> String {
    format!(
        "A cluster of 2 nodes per stack with a 2 s session idle TTL and 2 s access tokens (leeway 0). Active \
         users send GET /me every 0.5 s for {} s through HAProxy; the refreshing JWT user calls POST \
         /token/refresh on each 401. Then a spent refresh token is replayed (revocation none), and the \
         access token issued with the holder's newest refresh token is sent to GET /me every 0.1 s for \
         up to {} s.",
        s.total_s,
        access_window().as_secs()
    )
}

fn users_table(s: &Observed) -> Table {
    let show = |r: Option<f64>| {
        r.map(|secs| format!("logged out after {secs:.1} s"))
            .unwrap_or_else(|| format!("still logged in after {} s", s.total_s))
    };
    Table {
        title: format!(
            "An active user (a request every 0.5 s for {} s) with 2 s lifetimes",
            s.total_s
        ),
        columns: ["set-up", "outcome", "token refreshes"]
            .map(String::from)
            .to_vec(),
        rows: vec![
            vec![
                "session, 2 s idle TTL (sliding)".into(),
                show(s.session_active),
                "—".into(),
            ],
            vec![
                "JWT, 2 s access token, no refresh".into(),
                show(s.jwt_no_refresh),
                "0".into(),
            ],
            vec![
                "JWT, 2 s access token + refresh token".into(),
                show(s.jwt_with_refresh),
                s.refreshes.to_string(),
            ],
            vec![
                "session, idle user returning after 3 s".into(),
                format!("GET /me answered {}", s.idle_status),
                "—".into(),
            ],
        ],
    }
}

fn rotation_table(s: &Observed) -> Table {
    Table {
        title: "Refresh-token rotation and replay".into(),
        columns: ["step", "result"].map(String::from).to_vec(),
        rows: vec![
            vec![
                "refresh returns a new refresh token".into(),
                s.rotated.to_string(),
            ],
            vec![
                "replaying the spent token".into(),
                format!("{} {}", s.replay_status, s.replay_message),
            ],
            vec![
                "the legitimate holder's newest token afterwards".into(),
                s.legit_after.to_string(),
            ],
            vec![
                "the access token issued with it, GET /me every 0.1 s after the replay".into(),
                s.access_after.said(s.access_ttl_s),
            ],
        ],
    }
}

fn chart(s: &Observed) -> Chart {
    let bar = |r: Option<f64>| r.unwrap_or(s.total_s as f64);
    let series = [
        ("session, sliding", s.session_active),
        ("JWT, no refresh", s.jwt_no_refresh),
        ("JWT + refresh", s.jwt_with_refresh),
    ]
    .into_iter()
    .map(|(name, r)| Series {
        name: name.into(),
        points: vec![Point {
            x: "seconds an active user stays logged in".into(),
            y: bar(r),
            low: None,
            high: None,
        }],
    })
    .collect();
    Chart {
        title: "Seconds an active user stays logged in (a full bar = the whole run)".into(),
        kind: ChartKind::Bars,
        x_label: "".into(),
        y_label: "seconds".into(),
        series,
    }
}

fn lesson(s: &Observed) -> String {
    format!(
        "A session slides for free: each request moves the idle deadline. A JWT's deadline is signed into it, so \
         an active user is logged out at expiry unless the client refreshes ({} here kept one \
         user in).{}",
        counted(s.refreshes),
        replay_sentences(s.replay_status, s.legit_after, &s.access_after, s.access_ttl_s)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lesson_says_what_the_replay_did_not_end() {
        // As a run measures it: the replay revokes the refresh tokens, and
        // the rotated pair's access token goes on until its exp.
        let lives_on = AccessAfterReplay {
            first_status: 200,
            last_accepted_s: Some(1.6),
            first_refused_s: Some(1.7),
            window_s: 4.0,
        };
        let text = replay_sentences(400, 400, &lives_on, 2.0);
        assert!(!text.contains("kills the whole login"), "{text}");
        assert!(
            text.contains("the replay revoked every refresh token of the login"),
            "{text}"
        );
        assert!(
            text.contains(
                "It did not end the login's access token, though: the one issued by the last refresh was still \
                 accepted 1.6 s after the replay, refused from 1.7 s on (its lifetime is 2 s)"
            ),
            "{text}"
        );
        // A server that also revoked access tokens would be said so.
        let ended = AccessAfterReplay {
            first_status: 401,
            last_accepted_s: None,
            first_refused_s: Some(0.0),
            window_s: 4.0,
        };
        let text = replay_sentences(400, 400, &ended, 2.0);
        assert!(
            text.contains("was refused at once after the replay (GET /me answered 401)"),
            "{text}"
        );
        assert!(!text.contains("lives until its exp"), "{text}");
        // A replay that did not revoke is not said to have.
        let text = replay_sentences(200, 200, &lives_on, 2.0);
        assert!(
            text.contains("answered 200 and the legitimate holder's newest one 200"),
            "{text}"
        );
        assert!(!text.contains("revoked every"), "{text}");
        let open = AccessAfterReplay {
            first_refused_s: None,
            ..lives_on
        };
        assert_eq!(
            open.said(2.0),
            "still accepted 1.6 s after the replay, when polling ended (4 s)"
        );
    }
}
