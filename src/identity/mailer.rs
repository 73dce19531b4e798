//! Delivery of account messages (password-reset links) behind a port.
//!
//! The embedded default keeps messages in an in-process outbox and logs that a message was sent,
//! never its content: a reset link is a credential. A production adapter (SMTP or a provider's
//! API) implements the same trait.

use std::collections::VecDeque;
use std::sync::Mutex;

/// A message to one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Sends account messages.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message. Delivery failures are the adapter's to log; the caller's request does
    /// not fail (and must not reveal whether the address exists).
    async fn send(&self, message: Message);
}

/// The embedded mailer: keeps the last 100 messages in memory.
#[derive(Default)]
pub struct Outbox {
    messages: Mutex<VecDeque<Message>>,
}

impl Outbox {
    /// The messages sent so far, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.messages.lock().map(|m| m.iter().cloned().collect()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl Mailer for Outbox {
    async fn send(&self, message: Message) {
        tracing::info!(mail.subject = %message.subject, "account message queued in the in-process outbox");
        if let Ok(mut messages) = self.messages.lock() {
            if messages.len() == 100 {
                messages.pop_front();
            }
            messages.push_back(message);
        }
    }
}
