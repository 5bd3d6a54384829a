//! The two archive tables as Parquet: one row group per file, snappy
//! pages, the users' field names as column names, so pyarrow, DuckDB,
//! Spark or Hive read them with no schema of ours.

use std::fs::File;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDateTime;
use gantry_core::Pass;
use gantry_store::series::Queued;
use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

/// IoT points: `ts` is an instant (UTC milliseconds), `tags` a JSON object.
const POINT_SCHEMA: &str = "message point {
    REQUIRED BYTE_ARRAY series (STRING);
    REQUIRED BYTE_ARRAY tags (STRING);
    REQUIRED INT64 ts (TIMESTAMP(MILLIS, true));
    REQUIRED DOUBLE value;
}";

/// Pass records as the 12-field Kafka line holds them; `gcsj` is the
/// checkpoint's local wall-clock time (China Standard Time), not an instant.
const PASS_SCHEMA: &str = "message pass {
    REQUIRED BYTE_ARRAY gcxh (STRING);
    REQUIRED BYTE_ARRAY xzqhmc (STRING);
    REQUIRED BYTE_ARRAY kkmc (STRING);
    REQUIRED BYTE_ARRAY fxlx (STRING);
    REQUIRED INT64 gcsj (TIMESTAMP(MILLIS, false));
    REQUIRED BYTE_ARRAY hpzl (STRING);
    REQUIRED BYTE_ARRAY hphm (STRING);
    REQUIRED BYTE_ARRAY clppxh (STRING);
    REQUIRED BYTE_ARRAY province (STRING);
    REQUIRED BOOLEAN is_weekend;
    REQUIRED BOOLEAN is_peak_hour;
    REQUIRED BYTE_ARRAY vehicle_type_name (STRING);
}";

/// One column's values, in schema order.
enum Column {
    Text(Vec<ByteArray>),
    Int64(Vec<i64>),
    Double(Vec<f64>),
    Bool(Vec<bool>),
}

fn text<'a>(values: impl Iterator<Item = &'a str>) -> Column {
    Column::Text(values.map(ByteArray::from).collect())
}

/// Writes `points` to `file` (not synced: the caller commits it).
pub fn write_points(file: &File, points: &[&Queued]) -> anyhow::Result<()> {
    let tags: Vec<String> = points
        .iter()
        .map(|p| serde_json::to_string(&p.tags))
        .collect::<Result<_, _>>()?;
    write(
        file,
        POINT_SCHEMA,
        vec![
            text(points.iter().map(|p| p.series.as_str())),
            text(tags.iter().map(String::as_str)),
            Column::Int64(points.iter().map(|p| p.time_ms).collect()),
            Column::Double(points.iter().map(|p| p.value).collect()),
        ],
    )
}

/// Writes `passes` with their derived fields to `file`.
pub fn write_passes(file: &File, passes: &[&Pass]) -> anyhow::Result<()> {
    let derived: Vec<_> = passes.iter().map(|p| p.derived()).collect();
    write(
        file,
        PASS_SCHEMA,
        vec![
            text(passes.iter().map(|p| p.id.as_str())),
            text(passes.iter().map(|p| p.district.as_str())),
            text(passes.iter().map(|p| p.checkpoint.as_str())),
            text(passes.iter().map(|p| p.direction.as_str())),
            Column::Int64(passes.iter().map(|p| wall_clock_ms(p.time)).collect()),
            text(passes.iter().map(|p| p.plate_type.as_str())),
            text(passes.iter().map(|p| p.plate.as_str())),
            text(passes.iter().map(|p| p.brand.as_str())),
            text(derived.iter().map(|d| d.province)),
            Column::Bool(derived.iter().map(|d| d.is_weekend).collect()),
            Column::Bool(derived.iter().map(|d| d.is_peak_hour).collect()),
            text(derived.iter().map(|d| d.vehicle_type)),
        ],
    )
}

/// A local time as Parquet's "not adjusted to UTC" timestamp: the wall
/// clock's milliseconds since 1970-01-01 00:00.
fn wall_clock_ms(time: NaiveDateTime) -> i64 {
    time.and_utc().timestamp_millis()
}

fn write(file: &File, schema: &str, columns: Vec<Column>) -> anyhow::Result<()> {
    let schema = Arc::new(parse_message_type(schema).context("archive schema")?);
    let properties = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(concat!("gantry ", env!("CARGO_PKG_VERSION")).into())
            .build(),
    );
    let mut writer = SerializedFileWriter::new(file, schema, properties)?;
    let mut group = writer.next_row_group()?;
    for column in columns {
        let mut writer = group
            .next_column()?
            .context("more columns than the archive schema has")?;
        match column {
            Column::Text(v) => writer
                .typed::<ByteArrayType>()
                .write_batch(&v, None, None)?,
            Column::Int64(v) => writer.typed::<Int64Type>().write_batch(&v, None, None)?,
            Column::Double(v) => writer.typed::<DoubleType>().write_batch(&v, None, None)?,
            Column::Bool(v) => writer.typed::<BoolType>().write_batch(&v, None, None)?,
        };
        writer.close()?;
    }
    group.close()?;
    writer.close()?;
    Ok(())
}
