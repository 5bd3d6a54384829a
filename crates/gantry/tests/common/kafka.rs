// The test broker, for the integration tests and for the Kafka sink's own
// tests inside the binary, which `include!` this file (so no inner doc
// comment here).

/// `scripts/services.sh up`'s tansu broker unless `GANTRY_TEST_KAFKA`
/// names another.
pub fn kafka_brokers() -> String {
    std::env::var("GANTRY_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

/// Creates `name` with `partitions` partitions on the test broker.
pub fn create_topic(name: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .create()
        .unwrap();
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = runtime
        .block_on(admin.create_topics([&topic], &AdminOptions::new()))
        .unwrap();
    for r in results {
        r.unwrap();
    }
}
