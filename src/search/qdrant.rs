//! The Qdrant adapter of [`VectorIndex`]: one collection of cosine-distance vectors whose
//! payload carries the filter fields, each with a payload index.

use anyhow::{Context, bail};
use async_trait::async_trait;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder,
    Distance, FieldType, Filter, PointId, PointStruct, PointsIdsList, QueryPointsBuilder, Range, SearchParamsBuilder,
    UpsertPointsBuilder, VectorParamsBuilder, point_id::PointIdOptions,
};
use qdrant_client::{Qdrant, QdrantError};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::vector::{Payload, VectorFilter, VectorIndex, VectorPoint};
use crate::config::Secret;

/// Filters passing at most this many points are searched exactly.
const EXACT_BELOW: u64 = 2_000;

/// Points per upsert request.
const UPSERT_BATCH: usize = 256;

/// Keyword fields with a payload index (plus `price_minor`, integer, and `buyable`, boolean).
/// Free-form attributes (`attr.<name>`) are filtered without one: their names are open-ended.
const KEYWORD_FIELDS: [&str; 10] =
    ["categories", "vendor", "currency", "status", "brand", "size", "colour", "material", "era", "condition"];

/// A Qdrant collection.
pub struct QdrantIndex {
    client: Qdrant,
    collection: String,
}

impl QdrantIndex {
    /// A client for the server at `url` (gRPC, usually port 6334). Connects lazily.
    ///
    /// # Errors
    /// When the URL is missing or malformed.
    pub fn connect(
        url: &str,
        collection: &str,
        api_key: Option<&Secret>,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Self> {
        if url.is_empty() {
            bail!("search.vector_index.kind = \"qdrant\" needs search.vector_index.url");
        }
        let mut builder = Qdrant::from_url(url).timeout(timeout).skip_compatibility_check();
        if let Some(key) = api_key.filter(|key| !key.expose().is_empty()) {
            builder = builder.api_key(key.expose().to_owned());
        }
        let client = builder.build().context("cannot configure the Qdrant client")?;
        Ok(Self { client, collection: collection.to_owned() })
    }
}

/// A Qdrant failure while `doing` something, labelled by its cause so logs and
/// `searchIndexStatus` tell a wrong key from a server that is down.
fn failed(doing: &'static str) -> impl FnOnce(QdrantError) -> anyhow::Error {
    move |error| {
        let label = cause(&error);
        anyhow::Error::new(error).context(format!("{label} ({doing})"))
    }
}

/// What a Qdrant error says went wrong, by its gRPC status code.
fn cause(error: &QdrantError) -> &'static str {
    match error {
        QdrantError::ResponseError { status } => match i32::from(status.code()) {
            // UNAUTHENTICATED, PERMISSION_DENIED
            16 | 7 => "Qdrant refused the API key (search.vector_index.api_key)",
            // CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE
            1 | 4 | 14 => "Qdrant is unreachable",
            // NOT_FOUND
            5 => "the Qdrant collection is missing",
            _ => "Qdrant refused the request",
        },
        QdrantError::ResourceExhaustedError { .. } => "Qdrant is overloaded",
        _ => "the Qdrant client failed",
    }
}

fn payload_json(payload: &Payload) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("categories".into(), payload.categories.iter().map(Uuid::to_string).collect());
    map.insert("vendor".into(), payload.vendor.to_string().into());
    map.insert("currency".into(), payload.currency.clone().into());
    map.insert("price_minor".into(), payload.price_minor.into());
    map.insert("buyable".into(), payload.buyable.into());
    let mut attributes = Map::new();
    for (field, value) in &payload.fields {
        match field.strip_prefix("attr.") {
            Some(name) => attributes.insert(name.to_owned(), value.clone().into()),
            None => map.insert(field.clone(), value.clone().into()),
        };
    }
    map.insert("attr".into(), Value::Object(attributes));
    map
}

/// The Qdrant filter equivalent to a [`VectorFilter`].
fn qdrant_filter(filter: &VectorFilter) -> Filter {
    let mut must = Vec::new();
    if let Some(category) = filter.category {
        must.push(Condition::matches("categories", vec![category.to_string()]));
    }
    if !filter.vendors.is_empty() {
        must.push(Condition::matches("vendor", filter.vendors.iter().map(Uuid::to_string).collect::<Vec<_>>()));
    }
    if let Some((currency, min, max)) = &filter.price {
        must.push(Condition::matches("currency", vec![currency.clone()]));
        must.push(Condition::range(
            "price_minor",
            Range { gte: min.map(|m| m as f64), lte: max.map(|m| m as f64), ..Range::default() },
        ));
    }
    if let Some(buyable) = filter.buyable {
        must.push(Condition::matches("buyable", buyable));
    }
    for (field, values) in &filter.any_of {
        must.push(Condition::matches(field.clone(), values.clone()));
    }
    Filter::must(must)
}

fn uuid_of(id: Option<PointId>) -> Option<Uuid> {
    match id?.point_id_options? {
        PointIdOptions::Uuid(text) => Uuid::parse_str(&text).ok(),
        PointIdOptions::Num(_) => None,
    }
}

#[async_trait]
impl VectorIndex for QdrantIndex {
    fn name(&self) -> &'static str {
        "qdrant"
    }

    fn keeps_vectors(&self) -> bool {
        true
    }

    /// Creates the collection when it is missing (a replica or `reindex` that loses the race to
    /// create it goes on with the winner's), then checks it holds one unnamed cosine vector of
    /// `dimensions` per point and creates any payload index it lacks.
    async fn prepare(&self, dimensions: usize) -> anyhow::Result<()> {
        if !self.client.collection_exists(&self.collection).await.map_err(failed("checking the collection"))? {
            let created = self
                .client
                .create_collection(
                    CreateCollectionBuilder::new(&self.collection)
                        .vectors_config(VectorParamsBuilder::new(dimensions as u64, Distance::Cosine)),
                )
                .await;
            if let Err(error) = created {
                let exists = self.client.collection_exists(&self.collection).await.unwrap_or(false);
                if !exists {
                    return Err(failed("creating the collection")(error));
                }
            }
        }
        let info = self.client.collection_info(&self.collection).await.map_err(failed("reading the collection"))?;
        let info = info.result.context("Qdrant returned no collection info")?;
        let vectors = info.config.as_ref().and_then(|c| c.params.as_ref()).and_then(|p| p.vectors_config.as_ref());
        match vectors.and_then(|v| v.config.as_ref()) {
            Some(qdrant_client::qdrant::vectors_config::Config::Params(params)) => {
                if params.size != dimensions as u64 {
                    bail!(
                        "the Qdrant collection {} holds vectors of {} dimensions, not {dimensions}: drop it and reindex",
                        self.collection,
                        params.size
                    );
                }
                if params.distance() != Distance::Cosine {
                    bail!(
                        "the Qdrant collection {} measures {:?} distance, not cosine similarity: drop it and reindex",
                        self.collection,
                        params.distance()
                    );
                }
            }
            Some(qdrant_client::qdrant::vectors_config::Config::ParamsMap(_)) => bail!(
                "the Qdrant collection {} has named vectors; it needs one unnamed vector per point: drop it and reindex",
                self.collection
            ),
            None => bail!("the Qdrant collection {} has no vector configuration", self.collection),
        }
        let indexes = KEYWORD_FIELDS
            .iter()
            .map(|field| (*field, FieldType::Keyword))
            .chain([("price_minor", FieldType::Integer), ("buyable", FieldType::Bool)]);
        for (field, kind) in indexes.filter(|(field, _)| !info.payload_schema.contains_key(*field)) {
            self.client
                .create_field_index(CreateFieldIndexCollectionBuilder::new(&self.collection, field, kind).wait(true))
                .await
                .map_err(failed("creating a payload index"))?;
        }
        Ok(())
    }

    async fn upsert(&self, points: Vec<VectorPoint>) -> anyhow::Result<()> {
        let points: Vec<PointStruct> = points
            .into_iter()
            .map(|point| PointStruct::new(point.id.to_string(), point.vector, payload_json(&point.payload)))
            .collect();
        for batch in points.chunks(UPSERT_BATCH) {
            self.client
                .upsert_points(UpsertPointsBuilder::new(&self.collection, batch.to_vec()).wait(true))
                .await
                .map_err(failed("upserting points"))?;
        }
        Ok(())
    }

    async fn remove(&self, ids: &[Uuid]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<PointId> = ids.iter().map(|id| id.to_string().into()).collect();
        self.client
            .delete_points(DeletePointsBuilder::new(&self.collection).points(PointsIdsList { ids }).wait(true))
            .await
            .map_err(failed("deleting points"))?;
        Ok(())
    }

    /// A filter that passes few points (by Qdrant's estimate from its payload indexes) is
    /// searched exactly: a graph walk could miss the one product it names. Otherwise the walk is
    /// at least twice as wide as the hits wanted.
    async fn search(&self, vector: &[f32], limit: usize, filter: &VectorFilter) -> anyhow::Result<Vec<(Uuid, f32)>> {
        let conditions = qdrant_filter(filter);
        let narrow = if conditions.must.len() > 1 {
            let estimate = self
                .client
                .count(CountPointsBuilder::new(&self.collection).filter(conditions.clone()).exact(false))
                .await
                .map_err(failed("estimating a filter"))?;
            estimate.result.is_some_and(|r| r.count <= EXACT_BELOW)
        } else {
            false
        };
        let params = SearchParamsBuilder::default().exact(narrow).hnsw_ef((limit as u64 * 2).max(128));
        let response = self
            .client
            .query(
                QueryPointsBuilder::new(&self.collection)
                    .query(vector.to_vec())
                    .limit(limit as u64)
                    .filter(conditions)
                    .params(params),
            )
            .await
            .map_err(failed("searching"))?;
        Ok(response.result.into_iter().filter_map(|p| Some((uuid_of(p.id)?, p.score))).collect())
    }

    async fn count(&self) -> anyhow::Result<u64> {
        let response = self
            .client
            .count(CountPointsBuilder::new(&self.collection).exact(true))
            .await
            .map_err(failed("counting points"))?;
        Ok(response.result.map_or(0, |r| r.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failures_are_labelled_by_their_cause() {
        let status = |code| QdrantError::ResponseError { status: tonic::Status::new(code, "x") };
        assert!(cause(&status(tonic::Code::Unauthenticated)).contains("API key"));
        assert!(cause(&status(tonic::Code::PermissionDenied)).contains("API key"));
        assert_eq!(cause(&status(tonic::Code::Unavailable)), "Qdrant is unreachable");
        assert_eq!(cause(&status(tonic::Code::DeadlineExceeded)), "Qdrant is unreachable");
        assert_eq!(cause(&status(tonic::Code::InvalidArgument)), "Qdrant refused the request");
        let labelled = failed("counting points")(status(tonic::Code::Unauthenticated));
        assert!(format!("{labelled:#}").starts_with("Qdrant refused the API key"), "{labelled:#}");
    }

    #[test]
    fn payloads_nest_free_form_attributes() {
        let mut payload = Payload { currency: "EUR".into(), price_minor: 1_000, ..Payload::default() };
        payload.fields.insert("brand".into(), "Dior".into());
        payload.fields.insert("attr.made_in".into(), "Italy".into());
        let json = Value::Object(payload_json(&payload));
        assert_eq!(json["brand"], json!("Dior"));
        assert_eq!(json["attr"]["made_in"], json!("Italy"));
        assert_eq!(json["price_minor"], json!(1_000));
    }

    #[test]
    fn filters_become_must_conditions() {
        let filter = VectorFilter {
            vendors: vec![Uuid::nil()],
            price: Some(("EUR".into(), Some(100), None)),
            buyable: Some(true),
            any_of: vec![("attr.made_in".into(), vec!["Italy".into()])],
            ..VectorFilter::default()
        };
        // vendor, currency, price range, buyable, attribute.
        assert_eq!(qdrant_filter(&filter).must.len(), 5);
    }
}
