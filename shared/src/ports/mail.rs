//! The mail port: the e-mail the platform sends itself (invitations). The
//! identity provider sends its own codes. Embedded: the local mailbox
//! (`adapters::embedded::mailbox`); on AWS, SES from the deployment's
//! verified sender (`MailFrom`). A deployment without a sender sends no
//! mail, and the inviting admin passes the token on.

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
    /// A notice a workflow sends members; its text is the "secret".
    Notice,
}

impl MessageKind {
    /// The text around the secret, for a person.
    pub fn body(self, secret: &str) -> String {
        match self {
            MessageKind::ConfirmSignUp => format!("Your confirmation code is {secret}."),
            MessageKind::ForgotPassword => format!("Your password reset code is {secret}."),
            MessageKind::Invitation => format!(
                "Sign in with this address and accept the invitation with this token:\n\n{secret}\n\nIt is valid for 7 days."
            ),
            MessageKind::Notice => secret.to_string(),
        }
    }
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
    /// Whether the backend answers, for the health report; the error says why not.
    async fn probe(&self) -> Result<(), String>;

    /// Sends one message; the error says why it was not sent.
    async fn send(&self, mail: &Mail<'_>) -> Result<(), String>;
}
