//! [`Link`]: either carrier, chosen when the node starts, so the exchange and [`Routed`]
//! (super::route::Routed) need one type whichever links a practice uses.

use super::file_drop::FileDrop;
use super::nats::{NatsConnector, NatsReceipt};
use super::{Clearinghouse, ConnectorError, Delivery, Inbound, OutboundBatch, Settlement};
use std::path::PathBuf;

pub enum Link {
    FileDrop(FileDrop),
    Nats(Box<NatsConnector>),
}

pub enum LinkReceipt {
    File(PathBuf),
    Nats(Box<NatsReceipt>),
}

impl Clearinghouse for Link {
    type Receipt = LinkReceipt;

    async fn send(&self, batch: &OutboundBatch) -> Result<Delivery, ConnectorError> {
        match self {
            Link::FileDrop(link) => link.send(batch).await,
            Link::Nats(link) => link.send(batch).await,
        }
    }

    fn max_batch_bytes(&self) -> Option<usize> {
        match self {
            Link::FileDrop(link) => link.max_batch_bytes(),
            Link::Nats(link) => link.max_batch_bytes(),
        }
    }

    async fn receive(&self, max: usize) -> Result<Vec<Inbound<LinkReceipt>>, ConnectorError> {
        Ok(match self {
            Link::FileDrop(link) => {
                link.receive(max).await?.into_iter().map(|item| item.map_receipt(LinkReceipt::File)).collect()
            }
            Link::Nats(link) => {
                let items = link.receive(max).await?.into_iter();
                items.map(|item| item.map_receipt(|receipt| LinkReceipt::Nats(Box::new(receipt)))).collect()
            }
        })
    }

    async fn settle(&self, receipt: LinkReceipt, settlement: Settlement) -> Result<(), ConnectorError> {
        match (self, receipt) {
            (Link::FileDrop(link), LinkReceipt::File(path)) => link.settle(path, settlement).await,
            (Link::Nats(link), LinkReceipt::Nats(message)) => link.settle(*message, settlement).await,
            // Receipts only come from this link's own `receive`.
            _ => Err(ConnectorError::ForeignReceipt),
        }
    }
}
