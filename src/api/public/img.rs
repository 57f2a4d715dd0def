//! PUB-01/02: image upload in chunks, on `service::upload`.

use axum::extract::{Request, State};
use serde_json::json;

use crate::{
    api::{
        reply::{ApiResult, Reply},
        upload_form::UploadForm,
    },
    auth::StaffWrite,
    error::ApiError,
    service::upload::{self, ImgSource, Session},
    state::AppState,
};

/// `img_source`, or `cover_picture` as PUB-02's table names it.
fn img_source(p: &crate::api::params::Params) -> Result<ImgSource, ApiError> {
    let v = p
        .str_any(&["img_source", "cover_picture"])
        .ok_or_else(|| ApiError::form("img_source 不能为空"))?;
    ImgSource::parse(v)
}

/// PUB-01: stores one chunk (`img_name`, `img_data`, `chunk`, `timestamp` = the file id from
/// the body, `img_source`); a chunk sent again replaces the earlier one.
pub async fn upload(State(state): State<AppState>, caller: StaffWrite, req: Request) -> ApiResult {
    let storage = &state.storage;
    let limits = &state.settings.storage;
    let form = UploadForm::read(req, storage, limits.max_chunk_bytes, "分片").await?;
    let parsed = (|| {
        let p = &form.params;
        img_source(p)?;
        let session = Session::new(caller.id, p.req_str("timestamp")?, p.req_str("img_name")?)?;
        let chunk = upload::chunk_index(p.req_i64("chunk")?, limits)?;
        Ok::<_, ApiError>((session, chunk))
    })();
    let (session, chunk) = match parsed {
        Ok(v) => v,
        Err(e) => {
            form.discard(storage).await;
            return Err(e);
        }
    };
    let Some(data) = form.data else {
        return Err(ApiError::form("img_data 不能为空"));
    };
    upload::store_chunk(storage, limits, &session, chunk, data).await?;
    Ok(Reply::done("上传成功"))
}

/// PUB-02: merges the chunks (`img_name`, `timestamp`, `chunk_num`, `img_source`) into one
/// image; answers its `statics/...` path.
pub async fn merge(State(state): State<AppState>, caller: StaffWrite, req: Request) -> ApiResult {
    let storage = &state.storage;
    let limits = &state.settings.storage;
    let form = UploadForm::read(req, storage, limits.max_chunk_bytes, "分片").await?;
    let p = form.params.clone();
    form.discard(storage).await;
    let source = img_source(&p)?;
    let session = Session::new(caller.id, p.req_str("timestamp")?, p.req_str("img_name")?)?;
    let chunk_num = p.req_i64("chunk_num")?;
    let url = upload::merge(storage, limits, &session, chunk_num, source).await?;
    tracing::info!(user_id = caller.id, company_id = caller.company_id, %url, "image uploaded");
    Ok(Reply::ok(
        "添加图片成功",
        json!({"ret_data": {"picture_url": url}}),
    ))
}
