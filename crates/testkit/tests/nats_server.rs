//! The testkit against the real nats-server: start, talk, crash, restart, clean up.

use std::io;
use std::time::Duration;

use async_nats::jetstream;
use csp_testkit::NatsServer;
use futures_util::StreamExt as _;

async fn connect(server: &NatsServer) -> async_nats::Client {
    async_nats::connect(server.url())
        .await
        .expect("connect to the test server")
}

#[tokio::test]
async fn a_started_server_carries_a_message() {
    csp_testkit::within(std::time::Duration::from_secs(120), async {
        let server = NatsServer::start().expect("start");
        assert!(server.is_running());
        assert_ne!(server.port(), 4222);
        assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));

        let client = connect(&server).await;
        let mut subscriber = client.subscribe("csp.test.hello").await.expect("subscribe");
        client.flush().await.expect("flush");
        client
            .publish("csp.test.hello", "hi".into())
            .await
            .expect("publish");
        let message = tokio::time::timeout(Duration::from_secs(5), subscriber.next())
            .await
            .expect("a message within 5 s")
            .expect("the subscription is open");
        assert_eq!(&message.payload[..], b"hi");
    })
    .await
}

#[tokio::test]
async fn a_killed_server_restarts_on_its_port_with_its_streams() {
    csp_testkit::within(std::time::Duration::from_secs(120), async {
        let server = NatsServer::start().expect("start");
        server.wait_for_jetstream().await.expect("jetstream");
        let js = jetstream::new(connect(&server).await);
        js.create_stream(jetstream::stream::Config {
            name: "CSP_TEST".into(),
            subjects: vec!["csp.test.>".into()],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .expect("create stream");
        drop(js);

        let port = server.port();
        server.kill().expect("kill");
        assert!(!server.is_running());
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "nothing listens once killed"
        );

        server.restart().expect("restart");
        assert!(server.is_running());
        assert_eq!(server.port(), port);
        server.wait_for_jetstream().await.expect("jetstream again");
        let js = jetstream::new(connect(&server).await);
        let mut stream = js
            .get_stream("CSP_TEST")
            .await
            .expect("the stream survived");
        let info = stream.info().await.expect("stream info");
        assert_eq!(info.config.subjects, vec!["csp.test.>".to_string()]);
    })
    .await
}

#[tokio::test]
async fn a_stopped_server_restarts_too() {
    csp_testkit::within(std::time::Duration::from_secs(120), async {
        let server = NatsServer::start().expect("start");
        server.stop().expect("stop");
        assert!(!server.is_running());
        server.stop().expect("stopping twice is a no-op");
        server.restart().expect("restart");
        let client = connect(&server).await;
        client.flush().await.expect("round trip");
    })
    .await
}

#[test]
fn two_servers_run_side_by_side_on_different_ports() {
    let a = NatsServer::start().expect("a");
    let b = NatsServer::start().expect("b");
    assert_ne!(a.port(), b.port());
    assert_ne!(a.store_dir(), b.store_dir());
    assert!(a.is_running() && b.is_running());
}

#[test]
fn drop_kills_the_server_and_removes_its_directory() {
    let server = NatsServer::start().expect("start");
    let store = server.store_dir().to_path_buf();
    let root = store
        .parent()
        .expect("store is in the temp dir")
        .to_path_buf();
    let log = server.log_path().to_path_buf();
    let port = server.port();
    assert!(store.is_dir() && log.is_file());
    assert!(root.starts_with(std::env::temp_dir()));

    drop(server);
    assert!(!root.exists(), "{} is left behind", root.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens"
    );
}

#[tokio::test]
async fn max_payload_reaches_the_server() {
    csp_testkit::within(std::time::Duration::from_secs(120), async {
        let server = NatsServer::builder()
            .max_payload(64 * 1024)
            .start()
            .expect("start");
        let client = connect(&server).await;
        assert_eq!(client.server_info().max_payload, 64 * 1024);
    })
    .await
}

#[test]
fn a_binary_that_exits_fails_fast_with_its_log() {
    let started = std::time::Instant::now();
    let err = NatsServer::builder()
        .binary("/bin/sh")
        .start()
        .expect_err("sh is not a nats-server");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(err.kind(), io::ErrorKind::Other);
    let message = err.to_string();
    assert!(message.contains("exited with"), "{message}");
    assert!(
        message.contains("127.0.0.1"),
        "the log tail is quoted: {message}"
    );
}
