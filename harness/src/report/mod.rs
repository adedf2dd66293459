//! Run reports in `reports/<run-id>/`: `report.json` (its structure is
//! [`model`], its JSON Schema [`json_schema`], published as
//! reports/report.schema.json), `report.md` ([`markdown`]), the
//! self-contained `report.html` ([`html`], its charts [`charts`]) and
//! `junit.xml` for CI ([`junit`]). [`markup`] escapes what the last two write;
//! [`conversation`] renders each session's turns and conversation checks in both.

pub(crate) mod charts;
pub(crate) mod conversation;
pub(crate) mod html;
pub(crate) mod junit;
pub(crate) mod markdown;
pub(crate) mod markup;
pub mod model;

#[cfg(test)]
pub(crate) mod sample;

use std::path::{Path, PathBuf};

use model::RunReport;

/// The JSON Schema of `report.json`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RunReport)).unwrap_or_default()
}

/// Writes every report file into `dir/<run id>/` and returns that folder.
pub fn write(dir: &Path, report: &RunReport) -> std::io::Result<PathBuf> {
    let folder = dir.join(&report.run_id);
    write_into(&folder, report)?;
    Ok(folder)
}

/// Writes every report file into `folder` (rewriting a run's report, as
/// `harness cost` does when it adds the cost section).
pub fn write_into(folder: &Path, report: &RunReport) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(folder.join("report.json"), json)?;
    std::fs::write(folder.join("report.md"), markdown::render(report))?;
    std::fs::write(folder.join("report.html"), html::render(report))?;
    std::fs::write(folder.join("junit.xml"), junit::render(report))?;
    Ok(())
}

/// Reads a run's `report.json` back.
pub fn read(folder: &Path) -> std::io::Result<RunReport> {
    let text = std::fs::read_to_string(folder.join("report.json"))?;
    serde_json::from_str(&text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", folder.join("report.json").display()),
        )
    })
}
