//! Input and output formats: the Flume/Kafka line, headed CSV/TSV tables
//! (UTF-8 or GBK), and ETC toll records.
