//! `watchfloor config`: the settings in force, each with where it came from.

use clap::Args;
use serde_json::json;

use super::feeds::{Format, print_table};
use super::{EXIT_OK, GlobalArgs, load_settings};
use crate::config::provenance;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(global: &GlobalArgs, args: &ConfigArgs) -> anyhow::Result<u8> {
    let settings = load_settings(global)?;
    let text = settings
        .source
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok());
    let env = |name: &str| std::env::var(name).ok();
    let table = provenance::effective(&settings, text.as_deref(), &env, global.db.is_some());
    match args.format {
        Format::Json => {
            let settings: Vec<_> = table
                .iter()
                .map(|e| json!({"key": e.key, "value": e.value, "source": e.source.to_string()}))
                .collect();
            let file = settings_file_label(&settings_source(global));
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"file": file, "settings": settings}))?
            );
        }
        Format::Table => {
            println!(
                "settings file: {}\n",
                settings_file_label(&settings_source(global))
            );
            let rows: Vec<[String; 3]> = table
                .into_iter()
                .map(|e| [e.key.to_owned(), e.value, e.source.to_string()])
                .collect();
            print_table(&["key", "value", "source"], &rows);
        }
    }
    Ok(EXIT_OK)
}

fn settings_source(global: &GlobalArgs) -> Option<std::path::PathBuf> {
    global.config.clone().or_else(|| {
        Some(std::path::PathBuf::from(
            crate::config::settings::SYSTEM_SETTINGS,
        ))
        .filter(|p| p.exists())
    })
}

fn settings_file_label(path: &Option<std::path::PathBuf>) -> String {
    path.as_ref()
        .map_or("(none: defaults and the environment)".to_owned(), |p| {
            p.display().to_string()
        })
}
