//! `SessionStore::update` never brings back a session that is gone.
//!
//! No route of the session server changes an existing session in place (login
//! renews, logout purges), so this test serves a tiny app of its own over real
//! HTTP: actix-session's real middleware on the server's real store, backed by
//! a real redis-server. `/touch` changes the session state, which is the one
//! path on which the middleware calls `update`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_session::{config::CookieContentSecurity, Session, SessionMiddleware};
use actix_web::{cookie::Key, web, App, HttpResponse, HttpServer};
use authlab_core::{
    metrics::Metrics,
    redis_client::{RedisClientArgs, RedisStore},
};
use reqwest::StatusCode;
use session_server::store::{RedisSessions, SessionBackend};
use testkit::redis::RedisServer;

async fn log_in(session: Session) -> HttpResponse {
    session.insert("user", "alice").unwrap();
    HttpResponse::Ok().finish()
}

/// Changes the session state while a logout elsewhere ends the session:
/// the middleware loaded it before the handler ran and calls `update` after.
async fn touch(session: Session, redis: web::Data<redis::Client>) -> HttpResponse {
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    for key in session_keys(&redis).await {
        redis::cmd("DEL")
            .arg(key)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
    session.insert("touched", true).unwrap();
    HttpResponse::Ok().finish()
}

async fn me(session: Session) -> HttpResponse {
    match session.get::<String>("user").unwrap() {
        Some(user) => HttpResponse::Ok().body(user),
        None => HttpResponse::Unauthorized().finish(),
    }
}

fn cookie_of(response: &reqwest::Response) -> Option<String> {
    response.headers().get("set-cookie").map(|value| {
        value
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    })
}

async fn session_keys(redis: &redis::Client) -> Vec<String> {
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS")
        .arg("authlab:session:*")
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_change_to_a_session_that_is_gone_does_not_resurrect_it() {
    let server = RedisServer::start();
    let metrics = Metrics::new("test").unwrap();
    let store = RedisStore::new(
        "session store",
        &server.url(0),
        &RedisClientArgs::default(),
        metrics.store("session_store"),
    )
    .unwrap();
    let backend = SessionBackend::Redis(Arc::new(RedisSessions::new(
        store,
        Duration::from_secs(60),
        Duration::from_secs(600),
    )));
    let key = Key::generate();
    let redis = redis::Client::open(server.url(0)).unwrap();
    let app_redis = web::Data::new(redis.clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = HttpServer::new(move || {
        App::new()
            .wrap(
                SessionMiddleware::builder(backend.clone(), key.clone())
                    .cookie_secure(false)
                    .cookie_content_security(CookieContentSecurity::Signed)
                    .build(),
            )
            .app_data(app_redis.clone())
            .route("/login", web::post().to(log_in))
            .route("/touch", web::post().to(touch))
            .route("/me", web::get().to(me))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = app.handle();
    tokio::spawn(app);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let login = http.post(format!("{base}/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = cookie_of(&login).unwrap();
    assert_eq!(session_keys(&redis).await.len(), 1);

    // A request that changes the session state while a logout ends it: the
    // middleware calls update. It must neither fail nor mint a new session.
    let touched = http
        .post(format!("{base}/touch"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(touched.status(), StatusCode::OK, "update must not fail");
    let after = cookie_of(&touched).unwrap_or_else(|| cookie.clone());
    assert_eq!(
        session_keys(&redis).await,
        Vec::<String>::new(),
        "a session that was gone was written back"
    );
    for presented in [&cookie, &after] {
        let response = http
            .get(format!("{base}/me"))
            .header("cookie", presented)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "a logged-out session came back to life"
        );
    }
    handle.stop(false).await;
}
