//! The mail port on SES (v2): plain-text mail from the deployment's verified
//! sender. The secret goes into the body and nowhere else; logs name only
//! the masked recipient.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use super::describe;
use crate::config::AwsSettings;
use crate::ports::mail::{Mail, Mailer};

/// The mail port on SES.
#[derive(Clone, Debug)]
pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    /// A mailer sending from the configured sender, or `None` when the
    /// deployment has none (`NOCODE_MAIL_FROM` unset).
    pub fn new(sdk: &SdkConfig, settings: &AwsSettings) -> Option<Self> {
        let from = settings.mail_from.clone()?;
        Some(Self {
            client: Client::new(sdk),
            from,
        })
    }
}

fn text(data: &str) -> Result<Content, String> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| e.to_string())
}

#[async_trait]
impl Mailer for SesMailer {
    async fn probe(&self) -> Result<(), String> {
        self.client
            .get_email_identity()
            .email_identity(&self.from)
            .send()
            .await
            .map(drop)
            .map_err(|e| describe(&e))
    }

    async fn send(&self, mail: &Mail<'_>) -> Result<(), String> {
        let message = Message::builder()
            .subject(text(mail.subject)?)
            .body(
                Body::builder()
                    .text(text(&mail.kind.body(mail.secret))?)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map(drop)
            .map_err(|e| describe(&e))
    }
}
