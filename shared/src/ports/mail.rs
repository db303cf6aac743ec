//! The mail port: the e-mail the platform sends itself (invitations). The
//! identity provider sends its own codes. Embedded: the local mailbox
//! (`adapters::embedded::mailbox`); on AWS no mail service is wired yet, so
//! `Services::mailer` is `None` there and the inviting admin passes the token on.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Which secret a message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// The code that confirms a sign-up.
    ConfirmSignUp,
    /// The code that sets a new password.
    ForgotPassword,
    /// The token of an invitation to an organization.
    Invitation,
}

/// One message to send.
#[derive(Clone)]
pub struct Mail<'a> {
    /// The recipient's address.
    pub to: &'a str,
    /// The subject line.
    pub subject: &'a str,
    /// What the secret is for.
    pub kind: MessageKind,
    /// The code or token; never logged.
    pub secret: &'a str,
}

/// Sends mail.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message; the error says why it was not sent.
    async fn send(&self, mail: &Mail<'_>) -> Result<(), String>;
}
