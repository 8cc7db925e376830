//! Load users logged in through a stack's frontend, each one's credential as
//! the server handed it out: the experiments that drive many users (c5, c14)
//! start from here and put the credential in whichever header they send.

use authlab_client::{session_cookie, ApiClient};
use authlab_core::directory::LOAD_PASSWORD;

use crate::{kit::err, Cluster, LabError, Stack};

/// One logged-in user's credential.
pub enum LoadCredential {
    /// The session cookie as `name=value`.
    Cookie(String),
    /// A JWT access token.
    Token(String),
}

impl LoadCredential {
    /// The cookie's value, or the token: what goes after `Bearer `.
    pub fn bearer_value(&self) -> &str {
        match self {
            LoadCredential::Cookie(pair) => pair.split_once('=').map_or(pair.as_str(), |(_, v)| v),
            LoadCredential::Token(token) => token,
        }
    }
}

/// Logs in `user0` … `user{users - 1}` on `stack`; any failed login is an error.
pub async fn log_in_load_users(
    client: &ApiClient,
    cluster: &dyn Cluster,
    stack: Stack,
    users: usize,
) -> Result<Vec<LoadCredential>, LabError> {
    let base = cluster.url(stack, "")?;
    let mut credentials = Vec::with_capacity(users);
    for i in 0..users {
        let response = client
            .login_response(&base, &format!("user{i}"), LOAD_PASSWORD)
            .await;
        if !response.status().is_success() {
            return Err(err(format!(
                "login of user{i} on {stack}: {}",
                response.status()
            )));
        }
        credentials.push(match stack {
            Stack::Session => LoadCredential::Cookie(
                session_cookie(&response, authlab_core::wire::SESSION_COOKIE)
                    .ok_or_else(|| err("the session login set no cookie"))?,
            ),
            Stack::Jwt => {
                let body: serde_json::Value = response.json().await.map_err(err)?;
                LoadCredential::Token(
                    body["access_token"]
                        .as_str()
                        .ok_or_else(|| err("the JWT login returned no access_token"))?
                        .to_owned(),
                )
            }
        });
    }
    Ok(credentials)
}
