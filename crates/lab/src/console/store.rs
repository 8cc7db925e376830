//! The session store as the console sees it: asked directly, once a second.
//!
//! The console does not trust its own memory of what it did to the store:
//! "paused" is what it asked for, "not answering" is what it measured. The
//! two are shown side by side, so a store that died by itself, or one a
//! colleague stopped from the prompt, shows as it is.

use std::time::Duration;

use serde::Serialize;

/// Longest the console waits for the store before calling it "not answering".
const TIMEOUT: Duration = Duration::from_millis(400);

/// What asking the store found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reachability {
    Up,
    /// It took the connection (or had it) but did not answer in time.
    NotAnswering,
    /// Nothing listens on its port.
    Down,
}

/// Keys of one database, named for what they hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyCount {
    pub db: u8,
    pub holds: &'static str,
    pub keys: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreReading {
    pub reachability: Reachability,
    pub detail: Option<String>,
    pub keys: Vec<KeyCount>,
    /// Redis's own figure (`used_memory_human`), e.g. `1.05M`.
    pub used_memory: Option<String>,
}

/// What each database of the session store holds (see [`crate::cluster`]).
const DATABASES: [(u8, &str); 2] = [(0, "sessions"), (1, "refresh tokens, denylist")];

/// Asks the store at `url` for its keys and memory.
pub async fn read(url: &str) -> StoreReading {
    let unreachable = |reachability, detail: String| StoreReading {
        reachability,
        detail: Some(detail),
        keys: Vec::new(),
        used_memory: None,
    };
    let client = match redis::Client::open(url) {
        Ok(client) => client,
        Err(e) => return unreachable(Reachability::Down, e.to_string()),
    };
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(TIMEOUT)
        .set_response_timeout(TIMEOUT);
    let asked = async {
        let mut connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("INFO")
            .query_async::<String>(&mut connection)
            .await
    };
    match tokio::time::timeout(TIMEOUT * 2, asked).await {
        Err(_) => unreachable(Reachability::NotAnswering, "no answer in time".into()),
        Ok(Err(e)) if e.is_connection_refusal() => {
            unreachable(Reachability::Down, "connection refused".into())
        }
        Ok(Err(e)) if e.is_timeout() => unreachable(Reachability::NotAnswering, e.to_string()),
        Ok(Err(e)) => unreachable(Reachability::Down, e.to_string()),
        Ok(Ok(info)) => parse_info(&info),
    }
}

/// Keys per database and memory, from the text of `INFO`.
pub fn parse_info(info: &str) -> StoreReading {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_owned())
    };
    let keys = DATABASES
        .iter()
        .map(|(db, holds)| KeyCount {
            db: *db,
            holds,
            keys: field(&format!("db{db}"))
                .and_then(|v| {
                    v.split(',')
                        .find_map(|kv| kv.strip_prefix("keys="))
                        .and_then(|n| n.parse().ok())
                })
                .unwrap_or(0),
        })
        .collect();
    StoreReading {
        reachability: Reachability::Up,
        detail: None,
        keys,
        used_memory: field("used_memory_human"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_gives_keys_per_database_and_memory() {
        let info = "# Memory\r\nused_memory:1102296\r\nused_memory_human:1.05M\r\n\
                    # Keyspace\r\ndb0:keys=12,expires=12,avg_ttl=1799000\r\ndb1:keys=3,expires=3,avg_ttl=0\r\n";
        let reading = parse_info(info);
        assert_eq!(reading.reachability, Reachability::Up);
        assert_eq!(reading.used_memory.as_deref(), Some("1.05M"));
        assert_eq!(reading.keys[0].keys, 12);
        assert_eq!(reading.keys[1].keys, 3);
    }

    #[test]
    fn an_empty_database_is_absent_from_info_and_counts_zero() {
        let reading = parse_info("used_memory_human:900K\r\n");
        assert!(reading.keys.iter().all(|k| k.keys == 0));
    }

    #[tokio::test]
    async fn a_port_nobody_listens_on_is_down() {
        let port = supervise::free_port().unwrap();
        let reading = read(&format!("redis://127.0.0.1:{port}/0")).await;
        assert_eq!(reading.reachability, Reachability::Down);
    }
}
