//! c9 — how big is the credential, and when is it too big?
//!
//! A session cookie carries a random id and a signature: its size does not
//! depend on who the user is. A JWT carries the claims themselves, so every
//! permission added to a user is added to every request they make. This
//! experiment measures both credentials as the claims grow, and sends
//! ever larger (validly signed) tokens through HAProxy and straight to a node
//! to find out which layer refuses them first, and how.

use std::time::{Duration, Instant};

use attack_corpus::{encoding_key, header, sign};
use authlab_client::{ApiClient as TestClient, Credential};
use jwt_server::{keys::KeySetFile, tokens::now_unix, SigningAlgorithm};
use serde_json::json;

use super::{err, Experiment, Outcome, RunContext};
use crate::{
    results::{Chart, ChartKind, ClaimVerdict, ExperimentResult, Point, Series, Table, Verdict},
    Cluster, ClusterSpec, LabError, Stack,
};

pub struct CredentialSize;

/// Claims of a real access token with `roles` fine-grained permissions.
fn claims_with(roles: usize) -> serde_json::Value {
    let now = now_unix();
    let mut list = vec!["user".to_owned()];
    list.extend((0..roles).map(|i| format!("perm:orders:read:{i:04}")));
    json!({
        "iss": "authlab", "aud": "authlab-api", "sub": "alice", "exp": now + 600, "iat": now, "nbf": now,
        "jti": "c9-size-probe-0000000000", "roles": list, "name": "Alice", "sid": "c9sizeprobe00000"
    })
}

fn token(keys: &KeySetFile, roles: usize) -> Result<String, LabError> {
    let entry = &keys.keys[0];
    Ok(sign(
        &header(keys.alg.jwt(), &entry.kid),
        &claims_with(roles),
        &encoding_key(keys.alg, entry)?,
    )?)
}

/// Bytes of `Authorization: Bearer <t>\r\n` and of `Cookie: <c>\r\n`.
fn bearer_header_bytes(token: &str) -> usize {
    "Authorization: Bearer \r\n".len() + token.len()
}

fn cookie_header_bytes(cookie: &str) -> usize {
    "Cookie: \r\n".len() + cookie.len()
}

/// C9's rule, from whether every minted token's header was larger than the
/// cookie's, whether HAProxy or the node refused any of the large tokens,
/// and the login token's header size over the cookie's.
pub fn c9_verdict(jwt_always_bigger: bool, size_limit_reached: bool, login_ratio: f64) -> Verdict {
    if !jwt_always_bigger {
        Verdict::DoesNotHold("a token was not larger than the session cookie".into())
    } else if !size_limit_reached {
        Verdict::HoldsWithCaveat(
            "tokens were larger, but no size limit was reached in the sizes tried".into(),
        )
    } else if login_ratio < 3.0 {
        Verdict::HoldsWithCaveat(format!("at login the token is only {login_ratio:.1}x the cookie; it is the claims that make it big"))
    } else {
        Verdict::Holds
    }
}

impl Experiment for CredentialSize {
    fn id(&self) -> &'static str {
        "c9"
    }

    fn title(&self) -> &'static str {
        "Credential size per request, and where big tokens are refused"
    }

    fn claims(&self) -> &'static [&'static str] {
        &["C9"]
    }

    fn estimate(&self, _quick: bool) -> Duration {
        Duration::from_secs(8)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> Outcome<'a> {
        Box::pin(async move {
            let started = Instant::now();
            ctx.variant("starting a cluster (1 node per stack)");
            let mut spec = ClusterSpec::new(ctx.launcher.clone());
            spec.nodes = 1;
            spec.seed_users = 0;
            let cluster = Cluster::start(spec).await?;
            let client = TestClient::new();
            let session_url = cluster.url(Stack::Session, "")?;
            let Credential::Cookie(cookie) = client.session_login(&session_url, "alice").await
            else {
                return Err(err("no session cookie"));
            };
            let cookie_bytes = cookie_header_bytes(&cookie);

            ctx.variant("credential bytes as claims grow");
            let role_counts: &[usize] = &[0, 10, 25, 50, 100, 200, 400];
            let algorithms = [
                SigningAlgorithm::Hs256,
                SigningAlgorithm::EdDsa,
                SigningAlgorithm::Rs256,
            ];
            let mut growth = Table {
                title:
                    "Credential header bytes per request (request line and other headers excluded)"
                        .into(),
                columns: vec![
                    "extra permissions in the token".into(),
                    "session cookie".into(),
                ],
                rows: Vec::new(),
            };
            growth
                .columns
                .extend(algorithms.iter().map(|a| format!("JWT {a}")));
            let mut series = vec![Series {
                name: "session cookie".into(),
                points: Vec::new(),
            }];
            series.extend(algorithms.iter().map(|a| Series {
                name: format!("JWT {a}"),
                points: Vec::new(),
            }));
            let key_sets: Vec<KeySetFile> = algorithms
                .iter()
                .map(|a| KeySetFile::generate(*a))
                .collect::<Result<_, _>>()
                .map_err(err)?;
            let mut raw_growth = Vec::new();
            for &roles in role_counts {
                let mut row = vec![roles.to_string(), cookie_bytes.to_string()];
                series[0].points.push(Point {
                    x: roles.to_string(),
                    y: cookie_bytes as f64,
                    low: None,
                    high: None,
                });
                let mut sizes = Vec::new();
                for (i, keys) in key_sets.iter().enumerate() {
                    let bytes = bearer_header_bytes(&token(keys, roles)?);
                    sizes.push(bytes);
                    row.push(bytes.to_string());
                    series[i + 1].points.push(Point {
                        x: roles.to_string(),
                        y: bytes as f64,
                        low: None,
                        high: None,
                    });
                }
                raw_growth.push(json!({"roles": roles, "cookie": cookie_bytes, "jwt": sizes}));
                growth.rows.push(row);
            }
            let login_jwt = {
                let (_, tokens) = client
                    .jwt_login(&cluster.url(Stack::Jwt, "")?, "alice")
                    .await;
                bearer_header_bytes(&tokens.access_token)
            };
            let per_thousand = Table {
                title: "Credential bytes per 1,000 requests, as issued at login (alice: 1 role)"
                    .into(),
                columns: vec![
                    "credential".into(),
                    "bytes per request".into(),
                    "KiB per 1,000 requests".into(),
                ],
                rows: vec![
                    vec![
                        "session cookie".into(),
                        cookie_bytes.to_string(),
                        format!("{:.1}", cookie_bytes as f64 * 1000.0 / 1024.0),
                    ],
                    vec![
                        format!("JWT {} (as issued by the cluster)", cluster.spec.alg),
                        login_jwt.to_string(),
                        format!("{:.1}", login_jwt as f64 * 1000.0 / 1024.0),
                    ],
                ],
            };

            ctx.variant("sending ever larger tokens through HAProxy and straight to a node");
            let keys = cluster
                .keyset_path()
                .map(|p| KeySetFile::read(p))
                .transpose()
                .map_err(err)?
                .ok_or_else(|| err("cluster has no key set"))?;
            let via_haproxy = cluster.url(Stack::Jwt, "/me")?;
            let direct = cluster.nodes(Stack::Jwt)[0].url("/me");
            let mut refusals = Table {
                title: "Status of GET /me by token size (validly signed tokens)".into(),
                columns: vec![
                    "token bytes".into(),
                    "through HAProxy".into(),
                    "straight to the node".into(),
                ],
                rows: Vec::new(),
            };
            let mut raw_refusals = Vec::new();
            let (mut first_server_refusal, mut first_proxy_refusal) = (None, None);
            for roles in [
                0usize, 100, 200, 300, 350, 400, 500, 600, 700, 800, 1000, 1400,
            ] {
                let token = token(&keys, roles)?;
                let bearer = Credential::Bearer(token.clone());
                let through = client
                    .get(&via_haproxy, Some(&bearer))
                    .await
                    .status()
                    .as_u16();
                let straight = client.get(&direct, Some(&bearer)).await.status().as_u16();
                if straight != 200 && first_server_refusal.is_none() {
                    first_server_refusal = Some((token.len(), straight));
                }
                if through != straight && first_proxy_refusal.is_none() {
                    first_proxy_refusal = Some((token.len(), through));
                }
                refusals.rows.push(vec![
                    token.len().to_string(),
                    through.to_string(),
                    straight.to_string(),
                ]);
                raw_refusals.push(
                    json!({"token_bytes": token.len(), "haproxy": through, "direct": straight}),
                );
            }
            cluster.shutdown();

            let smallest_jwt = login_jwt;
            let ratio = smallest_jwt as f64 / cookie_bytes as f64;
            let jwt_always_bigger = raw_growth.iter().all(|g| {
                g["jwt"].as_array().is_some_and(|a| {
                    a.iter()
                        .all(|b| b.as_u64().unwrap_or(0) > cookie_bytes as u64)
                })
            });
            let describe = |r: Option<(usize, u16)>| {
                r.map(|(bytes, status)| format!("{status} from {bytes} bytes on"))
                    .unwrap_or_else(|| "never".into())
            };
            let evidence = format!(
                "cookie header {cookie_bytes} B; JWT header at login {smallest_jwt} B ({ratio:.1}x); with 400 extra \
                 permissions {} B (HS256) to {} B (RS256); server refusal: {}; HAProxy refusal before the server: {}",
                raw_growth.last().and_then(|g| g["jwt"][0].as_u64()).unwrap_or(0),
                raw_growth.last().and_then(|g| g["jwt"][2].as_u64()).unwrap_or(0),
                describe(first_server_refusal),
                describe(first_proxy_refusal)
            );
            let verdict = c9_verdict(
                jwt_always_bigger,
                first_server_refusal.is_some() || first_proxy_refusal.is_some(),
                ratio,
            );
            Ok(ExperimentResult {
                id: "c9".into(),
                title: self.title().into(),
                claims: vec!["C9".into()],
                question: "Is a JWT much bigger than a session id, so that it costs bandwidth on every request, and can it hit header size limits?".into(),
                setup: format!(
                    "A cluster with one node per stack behind HAProxy (tune.bufsize 16 KiB by default; JWT nodes refuse \
                     tokens over --max-token-bytes, 8 KiB). Alice logs in on each stack; credential sizes are the bytes of \
                     the Cookie or Authorization header line. Tokens with 0 to 400 extra fine-grained permissions are \
                     minted for HS256, EdDSA and RS256 key sets; then tokens signed with the cluster's {} key, from \
                     about 0.3 to 25 KB, are sent to GET /me through HAProxy and straight to a node.",
                    cluster_alg_name()
                ),
                verdicts: vec![ClaimVerdict {
                    claim: "C9".into(),
                    verdict,
                    rule: "holds when every token is larger than the session cookie, the token issued at login is at \
                           least 3x the cookie, and some layer refuses large tokens; with a caveat when no layer refused one \
                           or the login token is under 3x; does not hold when a token is not larger than the cookie. The \
                           refusal status and size are reported."
                        .into(),
                    evidence,
                }],
                tables: vec![per_thousand, growth, refusals],
                chart: Some(Chart {
                    title: "Credential bytes per request as permissions grow".into(),
                    kind: ChartKind::Lines,
                    x_label: "extra permissions carried in the token".into(),
                    y_label: "header bytes per request".into(),
                    series,
                }),
                lesson: format!(
                    "A session cookie is {cookie_bytes} bytes whatever the user may do; the token issued at login is \
                     already {ratio:.1}x that, and it grows with every permission put into it, on every request. Past \
                     the server's token limit the request is refused ({}), and past the proxy's buffer it never reaches \
                     the server ({}). Keep tokens small: put a role in them, not a permission list.",
                    describe(first_server_refusal),
                    describe(first_proxy_refusal)
                ),
                raw: json!({"growth": raw_growth, "refusals": raw_refusals, "cookie_header_bytes": cookie_bytes, "login_jwt_header_bytes": login_jwt}),
                seconds: started.elapsed().as_secs_f64(),
                error: None,
            })
        })
    }
}

fn cluster_alg_name() -> &'static str {
    ClusterSpec::new(std::path::PathBuf::new()).alg.name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c9_rule() {
        assert_eq!(c9_verdict(true, true, 5.0), Verdict::Holds);
        assert_eq!(c9_verdict(true, true, 3.0), Verdict::Holds);
        assert_eq!(
            c9_verdict(true, true, 2.5),
            Verdict::HoldsWithCaveat(
                "at login the token is only 2.5x the cookie; it is the claims that make it big"
                    .into()
            )
        );
        assert!(matches!(
            c9_verdict(true, true, 2.99),
            Verdict::HoldsWithCaveat(n) if n.starts_with("at login")
        ));
        assert_eq!(
            c9_verdict(true, false, 5.0),
            Verdict::HoldsWithCaveat(
                "tokens were larger, but no size limit was reached in the sizes tried".into()
            )
        );
        assert!(matches!(
            c9_verdict(false, true, 5.0),
            Verdict::DoesNotHold(_)
        ));
        assert!(matches!(
            c9_verdict(false, false, 0.5),
            Verdict::DoesNotHold(_)
        ));
    }
}
