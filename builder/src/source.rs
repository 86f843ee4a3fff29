//! Reads a pushed commit out of the app's repository as a tar (the build context).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use git2::{ErrorCode, ObjectType, Repository, Tree};

use crate::BuilderError;

const MODE_SYMLINK: i32 = 0o120000;

/// The tree of one commit, ready to build.
#[derive(Debug, Clone)]
pub struct Source {
    /// Full commit id.
    pub commit: String,
    /// The tree as a tar: regular files with their git modes (0644/0755), symlinks kept,
    /// directories 0755, owner root, mtime the commit time. Submodules are left out.
    pub tar: Vec<u8>,
    /// Text of the root `Procfile`, if any.
    pub procfile: Option<String>,
    pub has_dockerfile: bool,
    /// Text of the root `Dockerfile`, if any (for `dockerfile::check`).
    pub dockerfile: Option<String>,
}

/// Exports `commit` (an id or any revision git understands) from `repo`. During pre-receive
/// the pushed objects are only in git's quarantine directory: pass it as `quarantine`.
pub fn export(
    repo: &Path,
    commit: &str,
    quarantine: Option<&Path>,
) -> Result<Source, BuilderError> {
    let git_err = |source: git2::Error| BuilderError::Git {
        repo: repo.to_path_buf(),
        source,
    };
    let r = Repository::open(repo).map_err(|e| match e.code() {
        ErrorCode::NotFound => BuilderError::RepoMissing {
            path: repo.to_path_buf(),
        },
        _ => git_err(e),
    })?;
    if let Some(q) = quarantine {
        let q_str = q
            .to_str()
            .ok_or_else(|| BuilderError::QuarantinePath(q.to_path_buf()))?;
        r.odb()
            .and_then(|odb| odb.add_disk_alternate(q_str))
            .map_err(git_err)?;
    }

    let not_found = || BuilderError::CommitNotFound {
        commit: commit.to_string(),
        repo: repo.to_path_buf(),
    };
    let object = r.revparse_single(commit).map_err(|e| match e.code() {
        ErrorCode::NotFound | ErrorCode::Ambiguous | ErrorCode::InvalidSpec => not_found(),
        _ => git_err(e),
    })?;
    let c = object.peel_to_commit().map_err(|_| not_found())?;
    let commit_id = c.id().to_string();
    let tree = c.tree().map_err(git_err)?;
    let mtime = u64::try_from(c.time().seconds()).unwrap_or(0);

    let mut tar = tar::Builder::new(Vec::new());
    append_tree(&r, &tree, Path::new(""), mtime, &mut tar).map_err(|e| match e {
        Walk::Git(e) => git_err(e),
        Walk::Io(e) => BuilderError::io("write the tar of", repo, e),
    })?;
    let tar = tar
        .into_inner()
        .map_err(|e| BuilderError::io("write the tar of", repo, e))?;

    let text = |file: &'static str| -> Result<Option<String>, BuilderError> {
        root_file(&r, &tree, file)
            .map_err(git_err)?
            .map(|bytes| {
                String::from_utf8(bytes).map_err(|_| BuilderError::NotUtf8 {
                    file,
                    commit: commit_id.clone(),
                })
            })
            .transpose()
    };
    let procfile = text("Procfile")?;
    let dockerfile = text("Dockerfile")?;
    Ok(Source {
        commit: commit_id,
        tar,
        procfile,
        has_dockerfile: dockerfile.is_some(),
        dockerfile,
    })
}

/// Content of a file at the root of the tree, following one symlink inside the tree.
fn root_file(r: &Repository, tree: &Tree, name: &str) -> Result<Option<Vec<u8>>, git2::Error> {
    let Some(entry) = tree.get_name(name) else {
        return Ok(None);
    };
    if entry.kind() != Some(ObjectType::Blob) {
        return Ok(None);
    }
    let blob = r.find_blob(entry.id())?;
    if entry.filemode() != MODE_SYMLINK {
        return Ok(Some(blob.content().to_vec()));
    }
    let target = Path::new(OsStr::from_bytes(blob.content()));
    match tree.get_path(target) {
        Ok(e) if e.kind() == Some(ObjectType::Blob) && e.filemode() != MODE_SYMLINK => {
            Ok(Some(r.find_blob(e.id())?.content().to_vec()))
        }
        _ => Ok(None),
    }
}

enum Walk {
    Git(git2::Error),
    Io(std::io::Error),
}

impl From<git2::Error> for Walk {
    fn from(e: git2::Error) -> Self {
        Walk::Git(e)
    }
}

impl From<std::io::Error> for Walk {
    fn from(e: std::io::Error) -> Self {
        Walk::Io(e)
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn append_tree(
    r: &Repository,
    tree: &Tree,
    prefix: &Path,
    mtime: u64,
    tar: &mut tar::Builder<Vec<u8>>,
) -> Result<(), Walk> {
    for entry in tree.iter() {
        // tar refuses `..` and absolute paths, so a crafted tree cannot escape the context.
        let path: PathBuf = prefix.join(OsStr::from_bytes(entry.name_bytes()));
        match entry.kind() {
            Some(ObjectType::Tree) => {
                let mut h = header(tar::EntryType::Directory, 0o755, 0, mtime);
                tar.append_data(&mut h, &path, std::io::empty())?;
                let sub = r.find_tree(entry.id())?;
                append_tree(r, &sub, &path, mtime, tar)?;
            }
            Some(ObjectType::Blob) => {
                let blob = r.find_blob(entry.id())?;
                if entry.filemode() == MODE_SYMLINK {
                    let target = Path::new(OsStr::from_bytes(blob.content()));
                    let mut h = header(tar::EntryType::Symlink, 0o777, 0, mtime);
                    tar.append_link(&mut h, &path, target)?;
                } else {
                    let mode = if entry.filemode() & 0o111 != 0 {
                        0o755
                    } else {
                        0o644
                    };
                    let content = blob.content();
                    let mut h = header(tar::EntryType::Regular, mode, content.len() as u64, mtime);
                    tar.append_data(&mut h, &path, content)?;
                }
            }
            _ => {
                tracing::warn!(path = %path.display(), "submodule left out of the build context");
            }
        }
    }
    Ok(())
}
