//! Warnings as JSON lines, one object per line, with the users' field names.

use std::io::Write;

use gantry_core::Warning;

pub fn write_warning(out: &mut impl Write, warning: &Warning) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, warning)?;
    out.write_all(b"\n")?;
    Ok(())
}
