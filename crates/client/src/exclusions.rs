//! What is left out of backups: glob patterns, a size limit, and named
//! presets. A pattern without `/` matches a file or folder name at any depth;
//! one with `/` matches the path relative to the chosen folder.

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::{Error, ErrorKind, Result};
use crate::types::ExclusionSettings;

/// The presets a person can switch on, with the name patterns they stand for.
pub const PRESETS: &[(&str, &[&str])] = &[
    ("caches", &[".cache", "Cache", "Caches", "__pycache__", ".gradle", ".parcel-cache", ".sass-cache"]),
    ("node_modules", &["node_modules"]),
    ("temporary", &["*.tmp", "*.temp", "*.swp", "*.swo", "*~", "*.part", "*.crdownload", ".DS_Store", "Thumbs.db"]),
];

impl Default for ExclusionSettings {
    fn default() -> Self {
        ExclusionSettings { patterns: Vec::new(), max_file_size: None, presets: vec!["caches".into(), "temporary".into()] }
    }
}

/// Compiled exclusion settings.
pub struct ExclusionRules {
    names: GlobSet,
    name_sources: Vec<String>,
    paths: GlobSet,
    path_sources: Vec<String>,
    max_file_size: Option<u64>,
}

fn glob(pattern: &str) -> Result<globset::Glob> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("the pattern “{pattern}” is not valid: {}", e.kind())))
}

impl ExclusionRules {
    /// Checks and compiles settings.
    ///
    /// # Errors
    /// `InvalidInput` naming a bad pattern, an unknown preset or a zero size limit.
    pub fn new(settings: &ExclusionSettings) -> Result<ExclusionRules> {
        let (mut names, mut paths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        let (mut name_sources, mut path_sources) = (Vec::new(), Vec::new());
        for preset in &settings.presets {
            let Some((_, patterns)) = PRESETS.iter().find(|(name, _)| name == preset) else {
                return Err(Error::new(ErrorKind::InvalidInput, format!("there is no preset called “{preset}”")));
            };
            for pattern in *patterns {
                names.add(glob(pattern)?);
                name_sources.push(format!("the “{preset}” preset"));
            }
        }
        for pattern in &settings.patterns {
            let pattern = pattern.trim();
            if pattern.is_empty() {
                return Err(Error::new(ErrorKind::InvalidInput, "an exclusion pattern is empty"));
            }
            if pattern.trim_start_matches('/').contains('/') {
                paths.add(glob(pattern.trim_start_matches('/'))?);
                path_sources.push(format!("the pattern “{pattern}”"));
            } else {
                names.add(glob(pattern)?);
                name_sources.push(format!("the pattern “{pattern}”"));
            }
        }
        if settings.max_file_size == Some(0) {
            return Err(Error::new(ErrorKind::InvalidInput, "the size limit must be more than 0 bytes"));
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()));
        Ok(ExclusionRules {
            names: build(names)?,
            name_sources,
            paths: build(paths)?,
            path_sources,
            max_file_size: settings.max_file_size,
        })
    }

    /// Why the entry at `relative` (to its chosen folder) is left out, if it is.
    pub fn reason(&self, relative: &Path, is_dir: bool, size: u64) -> Option<String> {
        if let Some(name) = relative.file_name() {
            if let Some(&i) = self.names.matches(name).first() {
                return Some(format!("excluded by {}", self.name_sources[i]));
            }
        }
        if let Some(&i) = self.paths.matches(relative).first() {
            return Some(format!("excluded by {}", self.path_sources[i]));
        }
        match self.max_file_size {
            Some(limit) if !is_dir && size > limit => Some(format!("larger than the {} size limit", human_bytes(limit))),
            _ => None,
        }
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(patterns: &[&str], presets: &[&str], max: Option<u64>) -> ExclusionRules {
        ExclusionRules::new(&ExclusionSettings {
            patterns: patterns.iter().map(|s| s.to_string()).collect(),
            max_file_size: max,
            presets: presets.iter().map(|s| s.to_string()).collect(),
        })
        .unwrap()
    }

    #[test]
    fn names_match_at_any_depth_and_paths_from_the_folder() {
        let r = rules(&["*.iso", "build/out/**"], &[], None);
        assert!(r.reason(Path::new("a/b/disk.iso"), false, 1).unwrap().contains("*.iso"));
        assert!(r.reason(Path::new("build/out/x.o"), false, 1).is_some());
        assert!(r.reason(Path::new("src/build/out/x.o"), false, 1).is_none(), "path patterns are anchored");
        assert!(r.reason(Path::new("notes.txt"), false, 1).is_none());
    }

    #[test]
    fn presets_and_size_limit() {
        let r = rules(&[], &["node_modules", "temporary"], Some(1_000_000));
        assert!(r.reason(Path::new("web/node_modules"), true, 0).unwrap().contains("node_modules"));
        assert!(r.reason(Path::new("draft.docx~"), false, 10).unwrap().contains("temporary"));
        assert!(r.reason(Path::new("movie.mkv"), false, 2_000_000).unwrap().contains("1.0 MB"));
        assert!(r.reason(Path::new("big-folder"), true, 2_000_000).is_none(), "the limit is for files");
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let bad = |patterns: &[&str], presets: &[&str], max| {
            ExclusionRules::new(&ExclusionSettings {
                patterns: patterns.iter().map(|s| s.to_string()).collect(),
                max_file_size: max,
                presets: presets.iter().map(|s| s.to_string()).collect(),
            })
            .err()
            .unwrap()
        };
        assert!(bad(&["[oops"], &[], None).message.contains("[oops"));
        assert!(bad(&[" "], &[], None).message.contains("empty"));
        assert!(bad(&[], &["everything"], None).message.contains("everything"));
        assert!(bad(&[], &[], Some(0)).message.contains("more than 0"));
    }
}
