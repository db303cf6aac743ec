//! The local mailbox: every e-mail the platform would send (sign-up and
//! reset codes from the identity pool, invitations), written as JSON files
//! under `<data>/mailbox/` for a developer or a test to read. On AWS, Cognito
//! sends its own codes; invitation e-mail there needs a mail service (SES),
//! which the platform does not have yet.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::ports::mail::MessageKind;
use crate::ports::mail::{Mail, Mailer};

/// Writes messages to `<data>/mailbox/`, named by ULIDs in sending order.
#[derive(Debug)]
pub struct Mailbox {
    dir: PathBuf,
    ids: Mutex<ulid::Generator>,
}

impl Mailbox {
    /// The mailbox of a data folder (created on first write).
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("mailbox"),
            ids: Mutex::new(ulid::Generator::new()),
        }
    }

    /// Writes one message: whole to a dot file, then renamed, so a reader
    /// never sees half a message. Logs the masked recipient, never the code.
    pub fn write(
        &self,
        to: &str,
        subject: &str,
        kind: MessageKind,
        code: &str,
        sent_at: DateTime<Utc>,
    ) -> std::io::Result<()> {
        let message = MailboxMessage {
            to: to.to_string(),
            subject: subject.to_string(),
            kind,
            code: code.to_string(),
            sent_at,
        };
        let id = {
            let mut ids = self
                .ids
                .lock()
                .map_err(|_| std::io::Error::other("the mailbox id generator is poisoned"))?;
            ids.generate()
                .unwrap_or_else(|overflow| overflow.commit_overflow_increment())
        };
        let json = serde_json::to_vec_pretty(&message).map_err(std::io::Error::other)?;
        let tmp = self.dir.join(format!(".{id}.json"));
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(&tmp, &json)?;
        std::fs::rename(&tmp, self.dir.join(format!("{id}.json")))?;
        tracing::info!(to = %mask(to), ?kind, "mail written to the mailbox");
        Ok(())
    }
}

#[async_trait::async_trait]
impl Mailer for Mailbox {
    async fn probe(&self) -> Result<(), String> {
        // The folder is created on first write; its parent must be usable.
        let parent = self.dir.parent().unwrap_or(&self.dir);
        std::fs::metadata(parent)
            .map(drop)
            .map_err(|e| format!("{}: {e}", parent.display()))
    }

    async fn send(&self, mail: &Mail<'_>) -> Result<(), String> {
        self.write(mail.to, mail.subject, mail.kind, mail.secret, Utc::now())
            .map_err(|e| format!("writing to the mailbox: {e}"))
    }
}

/// `alice@example.com` → `a***@e***`, as Cognito shows a destination.
pub fn mask(email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    format!("{}***@{}***", first(local), first(domain))
}

/// An e-mail the platform would have sent, as kept in `<data>/mailbox/`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxMessage {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// What the code is for.
    pub kind: MessageKind,
    /// The code.
    pub code: String,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

// Codes are secrets: debug output leaves them out.
impl std::fmt::Debug for MailboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxMessage")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("kind", &self.kind)
            .field("sent_at", &self.sent_at)
            .finish_non_exhaustive()
    }
}

/// Every message in `<data_dir>/mailbox/`, oldest first; none when the folder
/// does not exist yet.
pub fn mailbox(data_dir: &Path) -> std::io::Result<Vec<MailboxMessage>> {
    let dir = data_dir.join("mailbox");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        // Dot files are messages still being written.
        if !name.starts_with('.') && name.ends_with(".json") {
            names.push(name);
        }
    }
    // ULID names sort in sending order.
    names.sort();
    names
        .iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(name))?;
            serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("mailbox message {name}: {e}"),
                )
            })
        })
        .collect()
}

/// The code of the latest message of `kind` sent to `to` (compared
/// case-insensitively), if any.
pub fn latest_code(
    data_dir: &Path,
    to: &str,
    kind: MessageKind,
) -> std::io::Result<Option<String>> {
    Ok(mailbox(data_dir)?
        .into_iter()
        .rev()
        .find(|m| m.kind == kind && m.to.eq_ignore_ascii_case(to))
        .map(|m| m.code))
}
