//! The user directory against a real Redis: seeding, authentication, roles.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use authlab_core::{
    directory::{SeedArgs, UserDirectory, DEMO_PASSWORD, LOAD_PASSWORD},
    metrics::Metrics,
    password::HashCost,
    redis_client::{RedisClientArgs, RedisStore},
};
use testkit::RedisServer;

fn directory(redis: &RedisServer) -> UserDirectory {
    let metrics = Metrics::new("test").unwrap();
    let store = RedisStore::new(
        "user directory",
        &redis.url(0),
        &RedisClientArgs::default(),
        metrics.store("user_directory"),
    )
    .unwrap();
    UserDirectory::new(store)
}

#[tokio::test]
async fn seeding_is_idempotent_and_creates_demo_and_load_users() {
    let redis = RedisServer::start();
    let directory = directory(&redis);
    let args = SeedArgs {
        users: 250,
        cost: HashCost::LoadTest,
    };
    let first = directory.seed(&args).await.unwrap();
    assert_eq!((first.demo_users, first.load_users), (3, 250));

    assert!(directory
        .set_roles("bob", &["user".into(), "admin".into()])
        .await
        .unwrap());
    directory.seed(&args).await.unwrap();
    let bob = directory.get("bob").await.unwrap().unwrap();
    assert_eq!(
        bob.roles,
        vec!["user"],
        "re-seeding restores the default roles"
    );

    let carol = directory
        .authenticate("carol", DEMO_PASSWORD)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(carol.roles, vec!["user", "admin"]);
    let load = directory
        .authenticate("user249", LOAD_PASSWORD)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(load.name, "Load User 249");
    assert!(directory.get("user250").await.unwrap().is_none());
}

#[tokio::test]
async fn authentication_rejects_wrong_passwords_unknown_and_invalid_names_alike() {
    let redis = RedisServer::start();
    let directory = directory(&redis);
    directory
        .seed(&SeedArgs {
            users: 0,
            cost: HashCost::LoadTest,
        })
        .await
        .unwrap();
    for (user, password) in [
        ("alice", "wrong"),
        ("nobody", DEMO_PASSWORD),
        ("bad name with spaces", DEMO_PASSWORD),
        ("", DEMO_PASSWORD),
    ] {
        assert!(
            directory
                .authenticate(user, password)
                .await
                .unwrap()
                .is_none(),
            "{user:?}"
        );
    }
}

#[tokio::test]
async fn role_changes_never_create_users() {
    let redis = RedisServer::start();
    let directory = directory(&redis);
    directory
        .seed(&SeedArgs {
            users: 0,
            cost: HashCost::LoadTest,
        })
        .await
        .unwrap();
    assert!(!directory
        .set_roles("ghost", &["admin".into()])
        .await
        .unwrap());
    assert!(directory.get("ghost").await.unwrap().is_none());
}
