//! Tars in and out of containers: what the builder puts into the build container and reads
//! back from it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Component, Path};

/// A tar being written in memory.
pub(super) struct TarWriter(tar::Builder<Vec<u8>>);

impl TarWriter {
    pub fn new() -> Self {
        TarWriter(tar::Builder::new(Vec::new()))
    }

    pub fn dir(&mut self, path: &str, mode: u32) -> std::io::Result<()> {
        let mut h = header(tar::EntryType::Directory, mode, 0);
        self.0.append_data(&mut h, path, std::io::empty())
    }

    pub fn file(&mut self, path: &str, mode: u32, content: &[u8]) -> std::io::Result<()> {
        let mut h = header(tar::EntryType::Regular, mode, content.len() as u64);
        self.0.append_data(&mut h, path, content)
    }

    /// `dir`'s tree under `prefix`, in name order, with its files' modes and symlinks as
    /// symlinks. `.git` directories are left out (a fetched buildpack's history is no use).
    pub fn tree(&mut self, dir: &Path, prefix: &str) -> std::io::Result<()> {
        self.dir(prefix, 0o755)?;
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if name == ".git" {
                continue;
            }
            let path = format!("{prefix}/{name}");
            let meta = std::fs::symlink_metadata(entry.path())?;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(entry.path())?;
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                self.0.append_link(&mut h, &path, target)?;
            } else if meta.is_dir() {
                self.tree(&entry.path(), &path)?;
            } else if meta.is_file() {
                use std::os::unix::fs::PermissionsExt;
                let mode = if meta.permissions().mode() & 0o111 != 0 {
                    0o755
                } else {
                    0o644
                };
                let content = std::fs::read(entry.path())?;
                self.file(&path, mode, &content)?;
            }
        }
        Ok(())
    }

    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        self.0.into_inner()
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

/// The regular files of a tar from the engine's `GET archive` of a directory, by path below
/// that directory (the first component, the directory's own name, is dropped).
pub(super) fn files(tar: &[u8]) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path()?.into_owned();
        let rest: Vec<&str> = path
            .components()
            .skip(1)
            .filter_map(|c| match c {
                Component::Normal(s) => s.to_str(),
                _ => None,
            })
            .collect();
        let mut content = Vec::new();
        entry.read_to_end(&mut content)?;
        out.insert(rest.join("/"), content);
    }
    Ok(out)
}

/// The names at the top of a source tar (`source::export`'s, with relative paths).
pub(super) fn top_level(tar: &[u8]) -> std::io::Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let entry = entry?;
        let path = entry.path()?;
        if let Some(Component::Normal(first)) = path.components().next() {
            names.insert(first.to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

/// A regular file at the root of a source tar.
pub(super) fn root_file(tar: &[u8], name: &str) -> std::io::Result<Option<Vec<u8>>> {
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() == tar::EntryType::Regular
            && entry.path()? == Path::new(name)
        {
            let mut content = Vec::new();
            entry.read_to_end(&mut content)?;
            return Ok(Some(content));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_and_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "x").unwrap();
        std::fs::write(dir.path().join("bin/compile"), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("bin/compile"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        std::os::unix::fs::symlink("bin/compile", dir.path().join("link")).unwrap();

        let mut w = TarWriter::new();
        w.tree(dir.path(), "bp").unwrap();
        let tar = w.finish().unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let seen: Vec<(String, u32, tar::EntryType)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.entry_type(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("bp".to_string(), 0o755, tar::EntryType::Directory),
                ("bp/bin".to_string(), 0o755, tar::EntryType::Directory),
                ("bp/bin/compile".to_string(), 0o755, tar::EntryType::Regular),
                ("bp/link".to_string(), 0o777, tar::EntryType::Symlink),
            ]
        );
        let files = files(&tar).unwrap();
        assert_eq!(files["bin/compile"], b"#!/bin/sh\n");
        assert_eq!(top_level(&tar).unwrap(), BTreeSet::from(["bp".to_string()]));
        assert!(root_file(&tar, "bp").unwrap().is_none());
    }
}
