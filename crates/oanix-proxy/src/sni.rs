//! The server name of a TLS ClientHello (RFC 8446 §4.1.2, RFC 6066 §3).

/// What the first bytes of a tunnel say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hello {
    /// More bytes are needed to read the first record.
    Incomplete,
    /// A ClientHello naming this host.
    Name(String),
    /// A ClientHello without a server name.
    NoName,
    /// Not a TLS ClientHello.
    NotTls,
}

/// The largest ClientHello record the proxy reads before deciding.
pub(crate) const MAX_HELLO: usize = 16 * 1024 + 5;

/// Reads the server name of the ClientHello at the start of `buf`.
pub(crate) fn parse(buf: &[u8]) -> Hello {
    // Record header: type 22 (handshake), version, length.
    let Some(header) = buf.get(..5) else {
        return if buf.first().is_some_and(|t| *t != 22) {
            Hello::NotTls
        } else {
            Hello::Incomplete
        };
    };
    if header[0] != 22 || header[1] != 3 {
        return Hello::NotTls;
    }
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let Some(record) = buf.get(5..5 + len) else {
        return if 5 + len > MAX_HELLO {
            Hello::NotTls
        } else {
            Hello::Incomplete
        };
    };
    client_hello(record).unwrap_or(Hello::NotTls)
}

/// A cursor over bytes; every read is checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|b| usize::from(b[0]))
    }

    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]))
    }

    /// A vector with a length prefix of `width` bytes.
    fn vec(&mut self, width: usize) -> Option<Reader<'a>> {
        let n = match width {
            1 => self.u8()?,
            2 => self.u16()?,
            _ => self.u24()?,
        };
        self.take(n).map(Reader)
    }
}

fn client_hello(record: &[u8]) -> Option<Hello> {
    let mut r = Reader(record);
    if r.u8()? != 1 {
        return Some(Hello::NotTls);
    }
    let mut body = r.vec(3)?;
    body.take(2 + 32)?; // legacy_version, random
    body.vec(1)?; // legacy_session_id
    body.vec(2)?; // cipher_suites
    body.vec(1)?; // legacy_compression_methods
    if body.0.is_empty() {
        return Some(Hello::NoName);
    }
    let mut extensions = body.vec(2)?;
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let mut data = extensions.vec(2)?;
        if kind != 0 {
            continue;
        }
        let mut names = data.vec(2)?;
        while !names.0.is_empty() {
            let name_type = names.u8()?;
            let name = names.vec(2)?;
            if name_type == 0 {
                let host = std::str::from_utf8(name.0).ok()?;
                return Some(Hello::Name(host.to_ascii_lowercase()));
            }
        }
    }
    Some(Hello::NoName)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ClientHello record with `name` as its server name.
    pub(crate) fn hello(name: Option<&str>) -> Vec<u8> {
        let mut ext = Vec::new();
        if let Some(name) = name {
            let mut list = vec![0u8];
            list.extend((name.len() as u16).to_be_bytes());
            list.extend(name.as_bytes());
            let mut sni = (list.len() as u16).to_be_bytes().to_vec();
            sni.extend(list);
            ext.extend(0u16.to_be_bytes());
            ext.extend((sni.len() as u16).to_be_bytes());
            ext.extend(sni);
        }
        let mut body = vec![3, 3];
        body.extend([7u8; 32]);
        body.push(0);
        body.extend([0, 2, 0x13, 0x01]);
        body.extend([1, 0]);
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut hs = vec![1];
        hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend(body);
        let mut rec = vec![22, 3, 1];
        rec.extend((hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec
    }

    #[test]
    fn names_are_read_and_everything_else_is_told_apart() {
        let full = hello(Some("Example.COM"));
        assert_eq!(parse(&full), Hello::Name("example.com".into()));
        for cut in [0, 3, 5, full.len() - 1] {
            assert_eq!(parse(&full[..cut]), Hello::Incomplete, "{cut}");
        }
        assert_eq!(parse(&hello(None)), Hello::NoName);
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Hello::NotTls);
        let mut broken = full.clone();
        broken[6] = 0xff; // the handshake length runs past the record
        assert_eq!(parse(&broken), Hello::NotTls);
    }
}
