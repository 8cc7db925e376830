//! The application API both stacks serve, as types.
//!
//! The session server and the JWT server answer the same routes with the same
//! bodies, so one goose scenario, one test helper and one curl session work
//! against either; only the credential differs (a cookie or a bearer token).

use serde::{Deserialize, Serialize};

use crate::directory::User;

/// `POST /login` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `GET /me`: who the credential says I am, and which node answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MeResponse {
    pub user: String,
    pub name: String,
    pub roles: Vec<String>,
    pub node: String,
}

impl MeResponse {
    pub fn new(user: &User, node: &str) -> Self {
        Self {
            user: user.username.clone(),
            name: user.name.clone(),
            roles: user.roles.clone(),
            node: node.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub item: String,
    pub quantity: u32,
    pub total_cents: u64,
}

/// `GET /orders`: a small authenticated payload, the "real work" of the API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrdersResponse {
    pub user: String,
    pub node: String,
    pub orders: Vec<Order>,
}

const ITEMS: [&str; 6] = [
    "keyboard",
    "monitor",
    "cable",
    "desk lamp",
    "notebook",
    "headset",
];

/// Five orders derived from the username: the same on every node, with no
/// store behind them, so `/orders` costs the credential check plus a little
/// serialization and nothing else.
pub fn orders_for(username: &str) -> Vec<Order> {
    let seed = username
        .bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    (0..5u64)
        .map(|i| {
            let n = seed.wrapping_add(i.wrapping_mul(7919));
            let quantity = (n % 4 + 1) as u32;
            Order {
                id: format!("{username}-{}", 1000 + i),
                item: ITEMS[(n % ITEMS.len() as u64) as usize].to_owned(),
                quantity,
                total_cents: u64::from(quantity) * (500 + n % 9_500),
            }
        })
        .collect()
}

/// `PUT /admin/users/{username}/roles` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolesUpdate {
    pub roles: Vec<String>,
}

/// `GET /admin/stats`: something only an admin may see.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminStats {
    pub node: String,
    pub stack: String,
    pub uptime_seconds: u64,
    pub pid: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_deterministic_per_user() {
        assert_eq!(orders_for("alice"), orders_for("alice"));
        assert_ne!(orders_for("alice"), orders_for("bob"));
        assert_eq!(orders_for("alice").len(), 5);
    }
}
