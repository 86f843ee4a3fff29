//! `source::export` of commits made with the git CLI.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use paas_builder::{source, BuilderError};

use crate::support::{git_ok, work_repo};

struct Entry {
    kind: tar::EntryType,
    mode: u32,
    content: Vec<u8>,
    link: Option<String>,
}

fn unpack(tar_bytes: &[u8]) -> HashMap<String, Entry> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut entries = HashMap::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let header = e.header().clone();
        let link = e
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        let mut content = Vec::new();
        e.read_to_end(&mut content).unwrap();
        entries.insert(
            path,
            Entry {
                kind: header.entry_type(),
                mode: header.mode().unwrap(),
                content,
                link,
            },
        );
    }
    entries
}

#[test]
fn exports_files_modes_symlinks_procfile_and_dockerfile() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, work) = (tmp.path().join("home"), tmp.path().join("work"));
    std::fs::create_dir_all(&home).unwrap();
    let long_dir = "d".repeat(120);
    let long_file = format!("{long_dir}/deep.txt");
    let head = work_repo(
        &work,
        &home,
        &[
            ("README", b"hello\n"),
            ("bin/run.sh", b"#!/bin/sh\necho run\n"),
            ("sub/dir/file.txt", b"nested\n"),
            ("Procfile", b"web: bin/run.sh\n"),
            ("Dockerfile", b"FROM paas/busybox:latest\n"),
            (long_file.as_str(), b"long\n"),
        ],
    );
    std::fs::set_permissions(
        work.join("bin/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("README", work.join("link")).unwrap();
    git_ok(&work, &home, &["add", "-A"]);
    git_ok(&work, &home, &["commit", "-q", "-m", "second"]);
    let second = git_ok(&work, &home, &["rev-parse", "HEAD"]);
    assert_ne!(head, second);

    let src = source::export(&work, &second, None).unwrap();
    assert_eq!(src.commit, second);
    assert_eq!(src.procfile.as_deref(), Some("web: bin/run.sh\n"));
    assert!(src.has_dockerfile);
    assert_eq!(
        src.dockerfile.as_deref(),
        Some("FROM paas/busybox:latest\n")
    );

    let files = unpack(&src.tar);
    let readme = &files["README"];
    assert_eq!(
        (readme.kind, readme.mode, readme.content.as_slice()),
        (tar::EntryType::Regular, 0o644, &b"hello\n"[..])
    );
    let run = &files["bin/run.sh"];
    assert_eq!((run.kind, run.mode), (tar::EntryType::Regular, 0o755));
    assert_eq!(files["bin"].kind, tar::EntryType::Directory);
    assert_eq!(files["sub/dir/file.txt"].content, b"nested\n");
    let link = &files["link"];
    assert_eq!(
        (link.kind, link.link.as_deref()),
        (tar::EntryType::Symlink, Some("README"))
    );
    assert_eq!(files[&long_file].content, b"long\n");
    assert!(!files.contains_key(".git"));

    // The first commit had no executable bit yet; revisions other than ids work too.
    let first = source::export(&work, "HEAD~1", None).unwrap();
    assert_eq!(first.commit, head);
    assert_eq!(unpack(&first.tar)["bin/run.sh"].mode, 0o644);
}

#[test]
fn no_procfile_no_dockerfile() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, work) = (tmp.path().join("home"), tmp.path().join("work"));
    std::fs::create_dir_all(&home).unwrap();
    let head = work_repo(&work, &home, &[("index.html", b"hi\n")]);
    let src = source::export(&work, &head, None).unwrap();
    assert_eq!(src.procfile, None);
    assert!(!src.has_dockerfile);
}

#[test]
fn missing_commit_and_repo_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, work) = (tmp.path().join("home"), tmp.path().join("work"));
    std::fs::create_dir_all(&home).unwrap();
    work_repo(&work, &home, &[("a", b"a\n")]);

    let missing = "0123456789abcdef0123456789abcdef01234567";
    let err = source::export(&work, missing, None).unwrap_err();
    assert!(
        matches!(err, BuilderError::CommitNotFound { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(missing), "{err}");

    let err = source::export(&work, "no-such-branch", None).unwrap_err();
    assert!(
        matches!(err, BuilderError::CommitNotFound { .. }),
        "{err:?}"
    );

    let err = source::export(&tmp.path().join("nope.git"), missing, None).unwrap_err();
    assert!(matches!(err, BuilderError::RepoMissing { .. }), "{err:?}");
}

#[test]
fn procfile_must_be_utf8() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, work) = (tmp.path().join("home"), tmp.path().join("work"));
    std::fs::create_dir_all(&home).unwrap();
    let head = work_repo(&work, &home, &[("Procfile", b"web: \xff\xfe\n")]);
    let err = source::export(&work, &head, None).unwrap_err();
    assert!(
        matches!(
            err,
            BuilderError::NotUtf8 {
                file: "Procfile",
                ..
            }
        ),
        "{err:?}"
    );
}
