#if canImport(Glibc)
import Glibc
#endif

/// What libvirt hands QEMU for a secret: the value encrypted with the domain's master key (AES-256-CBC, PKCS#7
/// padding, a random IV), so that the command line and QMP carry no plaintext. QEMU decrypts it with the
/// `masterKey0` secret object, which reads the raw key from `master-key.aes` in the domain's private directory.
/// A small AES-256 encryptor of its own (FIPS-197), as the project depends on no crypto library for this.
public enum QEMUSecretCipher {
    /// `count` random bytes from the kernel (/dev/urandom); nil if it cannot be read.
    public static func randomBytes(_ count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var got = 0
        while got < count {
            let m = out.withUnsafeMutableBytes { read(fd, $0.baseAddress.map { $0 + got }, count - got) }
            if m < 0 && errno == EINTR { continue }
            if m <= 0 { return nil }
            got += m
        }
        return out
    }

    /// AES-256-CBC of `data` with `key` (32 bytes) and `iv` (16 bytes), PKCS#7 padded (always 1 to 16 bytes).
    public static func encryptCBC(_ data: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8] {
        precondition(key.count == 32 && iv.count == 16)
        let pad = 16 - data.count % 16
        let input = data + [UInt8](repeating: UInt8(pad), count: pad)
        let rk = expandKey(key)
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var prev = iv
        var i = 0
        while i < input.count {
            var block = [UInt8](repeating: 0, count: 16)
            for j in 0..<16 { block[j] = input[i + j] ^ prev[j] }
            prev = encryptBlock(block, rk)
            out += prev
            i += 16
        }
        return out
    }

    /// The S-box: the multiplicative inverse in GF(2^8) followed by the affine transform.
    static let sbox: [UInt8] = {
        var s = [UInt8](repeating: 0, count: 256)
        for x in 0..<256 {
            var inv: UInt8 = 0
            if x != 0 {
                // x^254 is the inverse of x in GF(2^8).
                var result: UInt8 = 1
                var base = UInt8(x)
                var e = 254
                while e > 0 {
                    if e & 1 != 0 { result = mul(result, base) }
                    base = mul(base, base)
                    e >>= 1
                }
                inv = result
            }
            func rotl(_ v: UInt8, _ n: UInt8) -> UInt8 { (v << n) | (v >> (8 - n)) }
            s[x] = inv ^ rotl(inv, 1) ^ rotl(inv, 2) ^ rotl(inv, 3) ^ rotl(inv, 4) ^ 0x63
        }
        return s
    }()

    static func mul(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = a
        var b = b
        var p: UInt8 = 0
        while b != 0 {
            if b & 1 != 0 { p ^= a }
            let hi = a & 0x80
            a <<= 1
            if hi != 0 { a ^= 0x1B }
            b >>= 1
        }
        return p
    }

    static func xtime(_ a: UInt8) -> UInt8 { (a << 1) ^ (a & 0x80 != 0 ? 0x1B : 0) }

    /// The 15 round keys of AES-256, as 240 bytes.
    static func expandKey(_ key: [UInt8]) -> [UInt8] {
        var w = key
        w.reserveCapacity(240)
        var rcon: UInt8 = 1
        var i = 8
        while i < 60 {
            var t = Array(w[(i - 1) * 4..<i * 4])
            if i % 8 == 0 {
                t = [sbox[Int(t[1])] ^ rcon, sbox[Int(t[2])], sbox[Int(t[3])], sbox[Int(t[0])]]
                rcon = xtime(rcon)
            } else if i % 8 == 4 {
                t = t.map { sbox[Int($0)] }
            }
            for j in 0..<4 { w.append(w[(i - 8) * 4 + j] ^ t[j]) }
            i += 1
        }
        return w
    }

    static func encryptBlock(_ input: [UInt8], _ rk: [UInt8]) -> [UInt8] {
        var s = input
        for j in 0..<16 { s[j] ^= rk[j] }
        for round in 1...14 {
            // SubBytes and ShiftRows (the state is column-major: byte r + 4c is row r, column c).
            var t = [UInt8](repeating: 0, count: 16)
            for c in 0..<4 {
                for r in 0..<4 { t[r + 4 * c] = sbox[Int(s[r + 4 * ((c + r) % 4)])] }
            }
            if round < 14 {
                for c in 0..<4 {
                    let a0 = t[4 * c], a1 = t[4 * c + 1], a2 = t[4 * c + 2], a3 = t[4 * c + 3]
                    let all = a0 ^ a1 ^ a2 ^ a3
                    t[4 * c] = a0 ^ all ^ xtime(a0 ^ a1)
                    t[4 * c + 1] = a1 ^ all ^ xtime(a1 ^ a2)
                    t[4 * c + 2] = a2 ^ all ^ xtime(a2 ^ a3)
                    t[4 * c + 3] = a3 ^ all ^ xtime(a3 ^ a0)
                }
            }
            for j in 0..<16 { t[j] ^= rk[16 * round + j] }
            s = t
        }
        return s
    }
}
