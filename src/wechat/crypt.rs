//! WXBizMsgCrypt exactly as WeChat does it (WECHAT.md §D.2): SHA1 signatures over the sorted
//! strings, AES-256-CBC with the key's first 16 bytes as IV, the manual 32-byte PKCS#7, and
//! the `random16 ‖ u32_be(len) ‖ msg ‖ receive_id` frame. Used by the server's receiver of
//! component pushes and by the sandbox that makes them; checked against the §D.2 vectors.
//!
//! Plus [`parse_flat_xml`]: the flat `<xml><Name>value</Name>…</xml>` documents WeChat pushes.

use std::collections::HashMap;
use std::fmt;

use aes::Aes256;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::Engine;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rand::Rng;
use sha1::{Digest, Sha1};

/// WeChat pads to 32 bytes, not to the AES block size (§D.2 step 2).
const PAD_BLOCK: usize = 32;

/// Why a message could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptError {
    /// The EncodingAESKey does not decode to 32 bytes.
    #[error("EncodingAESKey must be 43 base64 characters decoding to 32 bytes")]
    BadKey,
    /// `msg_signature` does not match.
    #[error("signature mismatch")]
    Signature,
    /// Not base64, not a whole number of blocks, bad padding or a bad frame.
    #[error("malformed ciphertext")]
    Malformed,
    /// The frame names another app than ours.
    #[error("message is for another receive_id")]
    ReceiveId,
}

/// Encrypter/decrypter for one (token, EncodingAESKey, receive_id). The key never prints.
#[derive(Clone)]
pub struct MsgCrypt {
    token: String,
    key: [u8; 32],
    receive_id: String,
}

impl fmt::Debug for MsgCrypt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgCrypt")
            .field("receive_id", &self.receive_id)
            .finish_non_exhaustive()
    }
}

/// `lowercase_hex(sha1(sort(parts).join("")))` (§A.3 callback check, §D.2 step 4).
pub fn signature(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    let mut h = Sha1::new();
    for p in sorted {
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

impl MsgCrypt {
    /// `encoding_aes_key` is the 43-character EncodingAESKey; its last character may carry
    /// non-zero trailing bits, which WeChat's own decoders accept (§D.2 "Rust pitfall").
    pub fn new(token: &str, encoding_aes_key: &str, receive_id: &str) -> Result<Self, CryptError> {
        let lenient = GeneralPurpose::new(
            &alphabet::STANDARD,
            GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        let bytes = lenient
            .decode(format!("{}=", encoding_aes_key.trim()))
            .map_err(|_| CryptError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptError::BadKey)?;
        Ok(Self {
            token: token.to_owned(),
            key,
            receive_id: receive_id.to_owned(),
        })
    }

    /// The receive_id (component appid) messages must name.
    pub fn receive_id(&self) -> &str {
        &self.receive_id
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }

    /// `msg_signature` over (token, timestamp, nonce, encrypt).
    pub fn msg_signature(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        signature(&[&self.token, timestamp, nonce, encrypt])
    }

    /// The plain URL `signature` over (token, timestamp, nonce).
    pub fn url_signature(&self, timestamp: &str, nonce: &str) -> String {
        signature(&[&self.token, timestamp, nonce])
    }

    /// Encrypts `msg` with a fixed 16-byte random prefix (for golden tests) and returns the
    /// base64 `Encrypt`.
    pub fn encrypt_with(&self, msg: &str, random16: &[u8; 16]) -> String {
        let msg = msg.as_bytes();
        let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
        let mut plain = Vec::with_capacity(16 + 4 + msg.len() + self.receive_id.len() + PAD_BLOCK);
        plain.extend_from_slice(random16);
        plain.extend_from_slice(&len.to_be_bytes());
        plain.extend_from_slice(msg);
        plain.extend_from_slice(self.receive_id.as_bytes());
        let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
        // 1..=32 always fits in a byte.
        plain.resize(plain.len() + pad, u8::try_from(pad).unwrap_or(32));
        let n = plain.len();
        let enc = cbc::Encryptor::<Aes256>::new(&self.key.into(), &self.iv().into());
        match enc.encrypt_padded_mut::<NoPadding>(&mut plain, n) {
            Ok(ct) => STANDARD.encode(ct),
            // Unreachable: the buffer is a whole number of blocks.
            Err(_) => String::new(),
        }
    }

    /// Encrypts `msg` with 16 random alphanumeric bytes, as WeChat does.
    pub fn encrypt(&self, msg: &str) -> String {
        let mut rng = rand::thread_rng();
        let mut random16 = [0u8; 16];
        for b in &mut random16 {
            *b = rng.sample(rand::distributions::Alphanumeric);
        }
        self.encrypt_with(msg, &random16)
    }

    /// Decrypts a base64 `Encrypt` and checks the frame's receive_id (no signature check).
    pub fn decrypt(&self, encrypt: &str) -> Result<String, CryptError> {
        let mut buf = STANDARD
            .decode(encrypt.trim())
            .map_err(|_| CryptError::Malformed)?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(CryptError::Malformed);
        }
        let dec = cbc::Decryptor::<Aes256>::new(&self.key.into(), &self.iv().into());
        let plain = dec
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CryptError::Malformed)?;
        let pad = usize::from(*plain.last().ok_or(CryptError::Malformed)?);
        if !(1..=PAD_BLOCK).contains(&pad) || pad > plain.len() {
            return Err(CryptError::Malformed);
        }
        let body = plain
            .get(16..plain.len() - pad)
            .ok_or(CryptError::Malformed)?;
        let len_bytes: [u8; 4] = body
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(CryptError::Malformed)?;
        let len =
            usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| CryptError::Malformed)?;
        let msg = body.get(4..4 + len).ok_or(CryptError::Malformed)?;
        let receive_id = body.get(4 + len..).ok_or(CryptError::Malformed)?;
        if receive_id != self.receive_id.as_bytes() {
            return Err(CryptError::ReceiveId);
        }
        String::from_utf8(msg.to_vec()).map_err(|_| CryptError::Malformed)
    }

    /// Checks `msg_signature` (constant-time) and then decrypts (§D.2 "Decrypt").
    pub fn open(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<String, CryptError> {
        use subtle::ConstantTimeEq;
        let expected = self.msg_signature(timestamp, nonce, encrypt);
        let given = msg_signature.trim().to_ascii_lowercase();
        if expected.as_bytes().ct_eq(given.as_bytes()).unwrap_u8() != 1 {
            return Err(CryptError::Signature);
        }
        self.decrypt(encrypt)
    }

    /// Encrypts `msg` and returns (`Encrypt`, `msg_signature`) for the given timestamp/nonce.
    pub fn seal(&self, msg: &str, timestamp: &str, nonce: &str) -> (String, String) {
        let encrypt = self.encrypt(msg);
        let sig = self.msg_signature(timestamp, nonce, &encrypt);
        (encrypt, sig)
    }
}

/// The children of a flat WeChat XML document (`<xml><A>1</A><B><![CDATA[x]]></B></xml>`) as
/// name → text. Nested elements are flattened by their own name; the root's name is ignored.
pub fn parse_flat_xml(xml: &str) -> Result<HashMap<String, String>, quick_xml::Error> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = HashMap::new();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) => {
                stack.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.unescape()?),
            Event::CData(c) => text.push_str(&String::from_utf8_lossy(&c.into_inner())),
            Event::End(_) => {
                if let Some(name) = stack.pop() {
                    if !stack.is_empty() {
                        out.entry(name).or_insert_with(|| text.trim().to_owned());
                    }
                }
                text.clear();
            }
            Event::Empty(e) if !stack.is_empty() => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                out.entry(name).or_insert_with(String::new);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

    #[test]
    fn the_key_and_iv_of_the_reference_example_are_derived_with_trailing_bits_allowed() {
        let c = MsgCrypt::new("123456", KEY, "wx49f0ab532d5d035a").unwrap();
        assert_eq!(
            hex::encode(c.key),
            "916c4f115d94103cb15a998f74a0b71787603c398ebdf297d471a71140d2d5a4"
        );
        assert_eq!(hex::encode(c.iv()), "916c4f115d94103cb15a998f74a0b717");
        assert_eq!(
            MsgCrypt::new("t", "short", "x").err(),
            Some(CryptError::BadKey)
        );
    }

    #[test]
    fn worked_example_1_decrypts_and_its_signature_checks() {
        let c = MsgCrypt::new("123456", KEY, "wx49f0ab532d5d035a").unwrap();
        let echostr = "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==";
        assert_eq!(
            c.msg_signature("1411443780", "437374425", echostr),
            "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
        );
        let msg = c
            .open(
                "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
                "1411443780",
                "437374425",
                echostr,
            )
            .unwrap();
        assert_eq!(msg, "5927782489442352469");
        assert_eq!(
            c.open("0000", "1411443780", "437374425", echostr),
            Err(CryptError::Signature)
        );
        let other = MsgCrypt::new("123456", KEY, "wxsomeoneelse").unwrap();
        assert_eq!(other.decrypt(echostr), Err(CryptError::ReceiveId));
    }

    #[test]
    fn worked_example_2_encrypts_byte_for_byte() {
        let c = MsgCrypt::new("123456", KEY, "wx49f0ab532d5d035a").unwrap();
        let msg = "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>";
        let enc = c.encrypt_with(msg, b"1234567890123456");
        assert_eq!(enc, "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3");
        assert_eq!(
            c.msg_signature("1411525903", "461056294", &enc),
            "407518b7649e86ef23978113f92d27afa9296533"
        );
        assert_eq!(c.decrypt(&enc).unwrap(), msg);
    }

    #[test]
    fn worked_example_3_the_sandbox_ticket_push_round_trips() {
        let c = MsgCrypt::new("sandbox-token", KEY, "wx0000000000c0ffee").unwrap();
        let msg = "<xml><AppId><![CDATA[wx0000000000c0ffee]]></AppId><CreateTime>1413192605</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@sandbox-0001]]></ComponentVerifyTicket></xml>";
        assert_eq!(msg.len(), 227);
        let enc = c.encrypt_with(msg, b"1234567890123456");
        assert_eq!(enc, "9s4gMv99m88kKTh/H8IdkORlbUdRfIFPWnF+yYIOqYA/OK9CRjxss/Wze3IKizFO6kl0gAHBAfzDuq7dMcYmr7JzmbaRdgsvsEZgbns42p6th3ozoPgIf33HRSNOKWVjQyAN0JEFNUVUMGhCZeoyx4GWkKYKMjZeQAJl5lENu4RzDHHUy/QLfQHYvgWMqBc/Ram5bWvkcaemc9QDy3NX4q2pZgVevfoBAqekUiLyImPWERnEVy99ce2bx5JL6QKQLAPJ3HouP5E0J3wvdGxsvPfxy9CQMkDp8Bu4XQV0h9BWANDA/Uyowzr80eX16rUXx9ZS8gNRQuktb+ZwXx8IRz+6vaBnuX5FMPMVHfsiykI9RAcWZWMWvU0AZaOIHHGE");
        assert_eq!(
            c.msg_signature("1413192605", "1320562132", &enc),
            "abee921e50320620ceee984258c57a89e910a884"
        );
        assert_eq!(
            c.url_signature("1413192605", "1320562132"),
            "ce5efa29548a04a26cc2158f9e0d4f9e8c68ef4a"
        );
        let fields = parse_flat_xml(&c.decrypt(&enc).unwrap()).unwrap();
        assert_eq!(fields["InfoType"], "component_verify_ticket");
        assert_eq!(fields["ComponentVerifyTicket"], "ticket@@@sandbox-0001");
        assert_eq!(fields["CreateTime"], "1413192605");
    }

    #[test]
    fn the_jsapi_signature_vector_matches() {
        let s = signature(&["jsapi_ticket=sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg&noncestr=Wm3WZYTPz0wzccnW&timestamp=1414587457&url=http://mp.weixin.qq.com?params=value"]);
        assert_eq!(s, "0f9de62fce790f9a083d5c99e95740ceb90c27ed");
    }

    #[test]
    fn tampered_or_truncated_ciphertext_is_rejected_not_panicking() {
        let c = MsgCrypt::new("t", KEY, "wxapp").unwrap();
        let enc = c.encrypt("hello");
        assert_eq!(c.decrypt("not base64!"), Err(CryptError::Malformed));
        assert_eq!(c.decrypt(&enc[..8]), Err(CryptError::Malformed));
        let mut bytes = STANDARD.decode(&enc).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        assert!(c.decrypt(&STANDARD.encode(bytes)).is_err());
        assert_eq!(c.decrypt(&enc).unwrap(), "hello");
    }
}
