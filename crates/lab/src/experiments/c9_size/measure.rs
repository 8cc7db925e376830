//! c9's run: alice's credentials, tokens minted as permissions grow, probe
//! tokens sent on each side of every limit, then the bytes on the wire, on
//! a clear-text cluster and on a second one with TLS at HAProxy.
//!
//! Every limit a probe is sized against is read from the cluster as it
//! runs (its haproxy.cfg, `haproxy -vv`, the JWT nodes' own flags), never
//! assumed, so that a changed default moves the probes with it.

use harness::spec::JwtOptions;
use std::time::Duration;

use attack_corpus::{encoding_key, header, sign};
use authlab_client::{ApiClient, Credential};
use authlab_core::{
    http::NODE_HEADER,
    wire::{ErrorBody, TokenResponse},
};
use jsonwebtoken::{EncodingKey, Header};
use jwt_server::{keys::KeySetFile, tokens::now_unix, SigningAlgorithm};
use serde::Serialize;
use serde_json::json;

use super::wire::{self, Carrier, Probe, Protocol, WireRow};
use crate::experiment::RunContext;
use crate::kit::err;
use crate::{
    tls::Frontend,
    wire_cost::{IndexThreshold, StatusClass},
    Cluster, LabError, Stack,
};

/// Extra permissions of the minted tokens of the growth table.
pub const GROWTH_ROLES: [usize; 7] = [0, 10, 25, 50, 100, 200, 400];
pub const GROWTH_ALGORITHMS: [SigningAlgorithm; 3] = [
    SigningAlgorithm::Hs256,
    SigningAlgorithm::EdDsa,
    SigningAlgorithm::Rs256,
];
/// actix-http 3 answers 431 to a request head that does not parse within
/// this many bytes (its h1 decoder's `MAX_BUFFER_SIZE`, not configurable).
pub const ACTIX_HEAD_BUFFER: usize = 131_072;
/// Left free for the request line and the other headers when a probe is
/// meant to fit a request-head budget.
const HEAD_ROOM: usize = 512;

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

/// Signs access tokens with the first key of a key set.
struct Minter {
    header: Header,
    key: EncodingKey,
}

impl Minter {
    fn new(keys: &KeySetFile) -> Result<Self, LabError> {
        let entry = keys.keys.first().ok_or_else(|| err("empty key set"))?;
        Ok(Self {
            header: header(keys.alg.jwt(), &entry.kid),
            key: encoding_key(keys.alg, entry)?,
        })
    }

    fn token(&self, roles: usize) -> Result<String, LabError> {
        Ok(sign(&self.header, &claims_with(roles), &self.key)?)
    }

    /// The most extra permissions whose token is at most `bytes` long (0
    /// when even none is longer): the length grows with every permission.
    fn roles_within(&self, bytes: usize) -> Result<usize, LabError> {
        let fits = |roles| self.token(roles).map(|t| t.len() <= bytes);
        if !fits(0)? {
            return Ok(0);
        }
        let mut high = 1;
        while fits(high)? {
            high *= 2;
        }
        let mut low = high / 2;
        while high - low > 1 {
            let middle = (low + high) / 2;
            if fits(middle)? {
                low = middle;
            } else {
                high = middle;
            }
        }
        Ok(low)
    }
}

/// Bytes of `Authorization: Bearer <t>\r\n` and of `Cookie: <c>\r\n`.
pub fn bearer_header_bytes(token_bytes: usize) -> usize {
    "Authorization: Bearer \r\n".len() + token_bytes
}

fn cookie_header_bytes(cookie: &str) -> usize {
    "Cookie: \r\n".len() + cookie.len()
}

/// The limits a request meets on its way, as this run's cluster set them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// `--max-token-bytes` of the JWT nodes.
    pub node_token_bytes: usize,
    pub haproxy: HaproxyBuffers,
    pub actix_head_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HaproxyBuffers {
    pub bufsize: usize,
    pub maxrewrite: usize,
    /// Where the two figures came from.
    pub source: String,
}

impl HaproxyBuffers {
    /// What a request head may take: HAProxy keeps `maxrewrite` of its
    /// buffer free for header rewrites.
    pub fn head_bytes(&self) -> usize {
        self.bufsize.saturating_sub(self.maxrewrite)
    }
}

/// `<name> <number>` of a HAProxy config, if a line sets it.
fn tune(config: &str, name: &str) -> Option<usize> {
    config.lines().find_map(|line| {
        let mut words = line.split('#').next()?.split_whitespace();
        (words.next() == Some(name))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

/// `bufsize` and `maxrewrite` of the "Default settings" of `haproxy -vv`.
fn built_in_buffers(vv: &str) -> Option<(usize, usize)> {
    let line = vv.lines().find(|l| l.contains("bufsize ="))?;
    let value = |key: &str| {
        line.split(',').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == key).then(|| v.trim().parse().ok()).flatten()
        })
    };
    Some((value("bufsize")?, value("maxrewrite")?))
}

/// The buffers HAProxy runs with: the config's `tune.*` lines, else its
/// built-in defaults (asked for only when the config leaves one unset).
fn haproxy_buffers(
    config: &str,
    built_in: impl FnOnce() -> Option<(usize, usize)>,
) -> Option<HaproxyBuffers> {
    let (size, rewrite) = (
        tune(config, "tune.bufsize"),
        tune(config, "tune.maxrewrite"),
    );
    let defaults = if size.is_none() || rewrite.is_none() {
        built_in()
    } else {
        None
    };
    let bufsize = size.or(defaults.map(|d| d.0))?;
    let maxrewrite = rewrite.or(defaults.map(|d| d.1))?;
    let source = match (size, rewrite) {
        (Some(_), Some(_)) => "both set in haproxy.cfg",
        (None, None) => "haproxy.cfg sets neither: HAProxy's built-in defaults, from `haproxy -vv`",
        _ => "partly set in haproxy.cfg, the rest HAProxy's built-in defaults",
    };
    Some(HaproxyBuffers {
        bufsize,
        // HAProxy caps the reserve at half the buffer.
        maxrewrite: maxrewrite.min(bufsize / 2),
        source: source.into(),
    })
}

fn node_token_limit(jwt: &JwtOptions) -> Result<usize, LabError> {
    jwt.node_config()
        .map(|config| config.max_token_bytes)
        .map_err(|e| err(format!("reading the JWT nodes' flags: {e}")))
}

fn read_limits(cluster: &dyn Cluster) -> Result<Limits, LabError> {
    let path = cluster.dir().join("haproxy.cfg");
    let config =
        std::fs::read_to_string(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    let haproxy = haproxy_buffers(&config, || {
        let output = std::process::Command::new("haproxy")
            .arg("-vv")
            .output()
            .ok()?;
        built_in_buffers(&String::from_utf8_lossy(&output.stdout))
    })
    .ok_or_else(|| {
        err("HAProxy's buffer sizes: neither haproxy.cfg nor `haproxy -vv` gives them")
    })?;
    Ok(Limits {
        node_token_bytes: node_token_limit(&cluster.spec().jwt)?,
        haproxy,
        actix_head_bytes: ACTIX_HEAD_BUFFER,
    })
}

/// Why no HTTP answer came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "error", rename_all = "snake_case")]
pub enum Failure {
    /// The connection was never made: nothing was sent.
    NotConnected(String),
    /// The request went out and the connection closed without an answer.
    Closed(String),
    /// A timeout or anything else.
    Other(String),
}

/// One answer as the client saw it, plus HAProxy's counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// `None` when no HTTP answer came (see `failure`).
    pub status: Option<u16>,
    /// Only the node's application sets `x-node`.
    pub x_node: bool,
    /// The node's JSON error body, when the answer had one.
    pub error: Option<ErrorBody>,
    /// Through HAProxy: whether its pick counter for the node moved; `None`
    /// straight to the node, or when the counter could not be read.
    pub forwarded: Option<bool>,
    pub failure: Option<Failure>,
}

/// One token size, sent both ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeRow {
    pub roles: usize,
    pub token_bytes: usize,
    pub through: Answer,
    pub straight: Answer,
}

/// Everything the run measured, for the tables and the prose.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub nodes: usize,
    pub alg: SigningAlgorithm,
    pub limits: Limits,
    pub cookie_bytes: usize,
    pub login_bytes: usize,
    pub login_roles: usize,
    /// Header bytes per [`GROWTH_ROLES`] entry, per [`GROWTH_ALGORITHMS`] entry.
    pub growth: Vec<Vec<usize>>,
    pub probes: Vec<ProbeRow>,
    /// Every request measured on the wire, clear-text and TLS clusters.
    pub wire: Vec<WireRow>,
    /// The longest cookie value h2load's encoder still indexed.
    pub threshold: Option<IndexThreshold>,
    /// Requests per kept-alive run.
    pub wire_requests: u32,
}

/// The innermost cause: reqwest's own text only names the URL.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

async fn ask(client: &reqwest::Client, url: &str, token: &str) -> Answer {
    match client.get(url).bearer_auth(token).send().await {
        Err(e) => {
            let cause = root_cause(&e);
            Answer {
                status: None,
                x_node: false,
                error: None,
                forwarded: None,
                failure: Some(if e.is_connect() {
                    Failure::NotConnected(cause)
                } else if e.is_timeout() {
                    Failure::Other(cause)
                } else {
                    Failure::Closed(cause)
                }),
            }
        }
        Ok(response) => {
            let status = response.status().as_u16();
            let x_node = response.headers().contains_key(NODE_HEADER);
            let body = response.text().await.unwrap_or_default();
            Answer {
                status: Some(status),
                x_node,
                error: serde_json::from_str(&body).ok(),
                forwarded: None,
                failure: None,
            }
        }
    }
}

/// Token sizes on each side of each limit, plus a doubling ladder.
fn probe_roles(minter: &Minter, limits: &Limits) -> Result<Vec<usize>, LabError> {
    let line = bearer_header_bytes(0);
    let mut roles = vec![0];
    let mut bytes = 1024;
    while bytes < limits.actix_head_bytes {
        roles.push(minter.roles_within(bytes)?);
        bytes *= 2;
    }
    let node = minter.roles_within(limits.node_token_bytes)?;
    roles.extend([node, node + 1]);
    for head in [limits.haproxy.head_bytes(), limits.actix_head_bytes] {
        roles.push(minter.roles_within(head.saturating_sub(line + HEAD_ROOM))?);
        // Its header line alone is over the budget.
        roles.push(minter.roles_within(head.saturating_sub(line))? + 1);
    }
    roles.sort_unstable();
    roles.dedup();
    Ok(roles)
}

/// What c9 sends on the wire on each protocol: each stack's request
/// without a credential, the credentials issued at login, and the tokens of
/// the growth table (as Authorization, answered 200 up to the node's limit
/// and 401 beyond, and in a cookie, which the JWT server never reads: 401).
fn wire_probes(
    cookie: &str,
    login_token: &str,
    minter: &Minter,
    node_limit: usize,
) -> Result<Vec<Probe>, LabError> {
    let probe = |stack, carrier, roles, credential: &str, expected| Probe {
        stack,
        carrier,
        roles,
        credential: credential.to_owned(),
        expected,
    };
    let mut probes = vec![
        probe(
            Stack::Session,
            Carrier::Nothing,
            None,
            "",
            StatusClass::ClientError,
        ),
        probe(
            Stack::Session,
            Carrier::SessionCookie,
            None,
            cookie,
            StatusClass::Success,
        ),
        probe(
            Stack::Jwt,
            Carrier::Nothing,
            None,
            "",
            StatusClass::ClientError,
        ),
        probe(
            Stack::Jwt,
            Carrier::Bearer,
            None,
            login_token,
            StatusClass::Success,
        ),
        probe(
            Stack::Jwt,
            Carrier::JwtCookie,
            None,
            login_token,
            StatusClass::ClientError,
        ),
    ];
    for &roles in &GROWTH_ROLES[1..] {
        let token = minter.token(roles)?;
        let bearer = if token.len() <= node_limit {
            StatusClass::Success
        } else {
            StatusClass::ClientError
        };
        probes.push(probe(
            Stack::Jwt,
            Carrier::Bearer,
            Some(roles),
            &token,
            bearer,
        ));
        probes.push(probe(
            Stack::Jwt,
            Carrier::JwtCookie,
            Some(roles),
            &token,
            StatusClass::ClientError,
        ));
    }
    Ok(probes)
}

/// Alice's session cookie (`name=value`) and JWT login on `cluster`,
/// through its frontends (over TLS when they speak it).
async fn alice(cluster: &dyn Cluster) -> Result<(String, TokenResponse), LabError> {
    let client = ApiClient::with_client(cluster.client_builder()?.build().map_err(err)?);
    let Credential::Cookie(cookie) = client
        .session_login(&cluster.url(Stack::Session, "")?, "alice")
        .await
    else {
        return Err(err("no session cookie"));
    };
    let (_, login) = client
        .jwt_login(&cluster.url(Stack::Jwt, "")?, "alice")
        .await;
    Ok((cookie, login))
}

/// Mints tokens with the key `cluster`'s JWT nodes sign with.
fn cluster_minter(cluster: &dyn Cluster) -> Result<Minter, LabError> {
    let keys = cluster
        .keyset_path()
        .map(|path| KeySetFile::read(path, false))
        .transpose()
        .map_err(err)?
        .ok_or_else(|| err("cluster has no key set"))?;
    Minter::new(&keys)
}

/// Measures [`wire_probes`] on `protocols` with alice's `cookie` and
/// `token`: the caller's, so that the header table and the wire tables of
/// one cluster quote one login (a signed cookie's length varies by a few
/// bytes from login to login).
async fn measure_wire(
    cluster: &dyn Cluster,
    ctx: &RunContext,
    protocols: &[Protocol],
    cookie: &str,
    token: &str,
) -> Result<Vec<WireRow>, LabError> {
    let probes = wire_probes(
        cookie,
        token,
        &cluster_minter(cluster)?,
        node_token_limit(&cluster.spec().jwt)?,
    )?;
    ctx.variant(format!(
        "bytes on the wire: {}",
        protocols
            .iter()
            .map(|p| p.label())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    wire::measure(cluster, protocols, &probes, wire::requests(ctx.quick)).await
}

/// Everything but the TLS cluster's wire figures, on the clear-text cluster.
async fn measure_clear(cluster: &dyn Cluster, ctx: &RunContext) -> Result<Measured, LabError> {
    let (cookie, login) = alice(cluster).await?;

    ctx.variant("credential bytes as claims grow");
    let minters: Vec<Minter> = GROWTH_ALGORITHMS
        .iter()
        .map(|a| {
            KeySetFile::generate(*a)
                .map_err(err)
                .and_then(|k| Minter::new(&k))
        })
        .collect::<Result<_, _>>()?;
    let growth = GROWTH_ROLES
        .iter()
        .map(|&roles| {
            minters
                .iter()
                .map(|m| m.token(roles).map(|t| bearer_header_bytes(t.len())))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;

    ctx.variant("sending tokens of growing size through HAProxy and straight to the node");
    let limits = read_limits(cluster)?;
    let minter = cluster_minter(cluster)?;
    let node = cluster
        .nodes(Stack::Jwt)
        .into_iter()
        .next()
        .ok_or_else(|| err("cluster has no JWT node"))?;
    let (via_haproxy, direct) = (cluster.url(Stack::Jwt, "/me")?, node.url("/me"));
    let backend = Stack::Jwt.backend();
    let picks = || {
        cluster.stats().ok().and_then(|servers| {
            servers
                .iter()
                .find(|s| s.backend == backend && s.server == node.name)
                .map(|s| s.selected)
        })
    };
    // No pooled connections: a refusing layer may close one after answering.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .map_err(err)?;
    let mut probes = Vec::new();
    for roles in probe_roles(&minter, &limits)? {
        let token = minter.token(roles)?;
        let before = picks();
        let mut through = ask(&http, &via_haproxy, &token).await;
        through.forwarded = before.zip(picks()).map(|(b, a)| a > b);
        let straight = ask(&http, &direct, &token).await;
        probes.push(ProbeRow {
            roles,
            token_bytes: token.len(),
            through,
            straight,
        });
    }
    let wire = measure_wire(cluster, ctx, &Protocol::CLEAR, &cookie, &login.access_token).await?;
    ctx.variant("where HTTP/2's encoder stops indexing a cookie");
    let threshold = wire::cookie_threshold(cluster).await?;
    Ok(Measured {
        nodes: cluster.spec().nodes,
        alg: cluster.spec().alg,
        limits,
        cookie_bytes: cookie_header_bytes(&cookie),
        login_bytes: bearer_header_bytes(login.access_token.len()),
        login_roles: login.roles.len(),
        growth,
        probes,
        wire,
        threshold: Some(threshold),
        wire_requests: wire::requests(ctx.quick),
    })
}

/// Runs c9: everything on a clear-text cluster, then the wire figures
/// again on a cluster with TLS and HTTP/2 at HAProxy.
pub async fn measure(ctx: &RunContext) -> Result<Measured, LabError> {
    let mut spec = ctx.spec();
    spec.nodes = 1;
    spec.seed_users = 0;
    ctx.variant(format!(
        "starting a cluster ({} node per stack)",
        spec.nodes
    ));
    let cluster = ctx.cluster(spec.clone()).await?;
    let measured = measure_clear(&*cluster, ctx).await;
    cluster.shutdown();
    let mut m = measured?;

    // As deployed: TLS at HAProxy, HTTP/2 offered in ALPN.
    spec.frontend = Frontend {
        tls: true,
        h2: true,
    };
    ctx.variant("starting a cluster with TLS and HTTP/2 at HAProxy");
    let tls = ctx.cluster(spec).await?;
    let measured = async {
        let (cookie, login) = alice(&*tls).await?;
        measure_wire(&*tls, ctx, &Protocol::TLS, &cookie, &login.access_token).await
    }
    .await;
    tls.shutdown();
    m.wire.extend(measured?);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_buffers_come_from_the_config_else_the_built_in_defaults() {
        let vv = "Default settings :\n  bufsize = 16384, maxrewrite = 1024, maxpollevents = 200\n";
        assert_eq!(built_in_buffers(vv), Some((16384, 1024)));
        let unset = haproxy_buffers("global\n    maxconn 4096\n", || built_in_buffers(vv)).unwrap();
        assert_eq!(
            (unset.bufsize, unset.maxrewrite, unset.head_bytes()),
            (16384, 1024, 15360)
        );
        let set = haproxy_buffers(
            "global\n    tune.bufsize 32768 # bigger\n    tune.maxrewrite 2048\n",
            || panic!("not asked when the config sets both"),
        )
        .unwrap();
        assert_eq!(set.head_bytes(), 30720);
        let small = haproxy_buffers("    tune.bufsize 1024\n", || Some((16384, 1024))).unwrap();
        assert_eq!(small.maxrewrite, 512);
        assert_eq!(haproxy_buffers("", || None), None);
        // The template the cluster renders leaves them to HAProxy's defaults.
        assert_eq!(tune(crate::haproxy::TEMPLATE, "tune.bufsize"), None);
    }

    #[test]
    fn the_node_limit_is_parsed_as_the_node_parses_its_flags() {
        assert_eq!(
            node_token_limit(&JwtOptions::default()).unwrap(),
            jwt_server::tokens::TokenSettings::default().max_token_bytes
        );
        assert_eq!(
            node_token_limit(&JwtOptions {
                max_token_bytes: Some(4096),
                ..JwtOptions::default()
            })
            .unwrap(),
            4096
        );
    }
}
