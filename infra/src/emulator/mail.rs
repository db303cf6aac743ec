//! The platform's mail sender, verified as SES requires before it sends.

use aws_config::SdkConfig;

use super::ProvisionError;

/// Verifies `address` as an SES e-mail identity (an emulator verifies at once).
pub async fn create_sender(sdk: &SdkConfig, address: &str) -> Result<(), ProvisionError> {
    aws_sdk_sesv2::Client::new(sdk)
        .create_email_identity()
        .email_identity(address)
        .send()
        .await
        .map_err(|e| ProvisionError::new(format!("mail sender {address}"), e))?;
    Ok(())
}
