//! A million users: generation and indexing time (printed, not asserted)
//! and searches that do not scan the directory.

use std::time::Instant;

use jira_sim::{Sim, SimConfig, Site, demo};
use reqwest::StatusCode;

use crate::common::{admin, client, send};

#[tokio::test]
async fn million_users() {
    let started = Instant::now();
    let site = Site::demo(1_000_000);
    let generated = started.elapsed();
    let started = Instant::now();
    let sim = Sim::new(SimConfig {
        site,
        ..SimConfig::default()
    });
    let indexed = started.elapsed();
    println!("Site::demo(1_000_000): {generated:?}; Sim::new (indexing): {indexed:?}");

    let handle = sim.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = client();
    let started = Instant::now();
    let (status, users) = send(admin(client.get(format!(
        "{}/rest/api/3/user/search?query=mia&maxResults=1000",
        handle.base_url()
    ))))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users.as_array().unwrap().len(), 1000);
    let (_, exact) = send(admin(client.get(format!(
        "{}/rest/api/3/user/search?query={}",
        handle.base_url(),
        demo::SAM_EMAIL
    ))))
    .await;
    assert_eq!(exact.as_array().unwrap().len(), 2);
    let (_, last) = send(admin(client.get(format!(
        "{}/rest/api/3/users/search?startAt=1000000&maxResults=50",
        handle.base_url()
    ))))
    .await;
    assert_eq!(last.as_array().unwrap().len(), demo::FIXED_USERS);
    let searched = started.elapsed();
    // Told, not asserted: the bench measures time.
    println!("three searches over 1,000,008 users: {searched:?}");
}
