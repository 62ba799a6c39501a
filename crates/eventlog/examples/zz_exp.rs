use sled::Transactional;
use std::time::Instant;
fn main() {
    let n: u64 = 200_000;
    let val = vec![7u8; 230];
    for mode in ["batch1", "tx1", "tx2", "tx2req"] {
        let dir = format!("/tmp/zzexp-{mode}");
        let _ = std::fs::remove_dir_all(&dir);
        let db = sled::Config::new()
            .path(&dir)
            .cache_capacity(64 << 20)
            .flush_every_ms(None)
            .open()
            .unwrap();
        let ev = db.open_tree("events").unwrap();
        let rq = db.open_tree("requests").unwrap();
        let t = Instant::now();
        let mut seq = 0u64;
        while seq < n {
            let mut b = sled::Batch::default();
            let mut r = sled::Batch::default();
            for i in 0..1000u64 {
                seq += 1;
                b.insert(&seq.to_be_bytes()[..], val.as_slice());
                if mode == "tx2req" && i % 2 == 0 {
                    let mut k = vec![1u8; 16];
                    k.extend_from_slice(format!("req-{seq}").as_bytes());
                    r.insert(k, vec![3u8; 120]);
                }
            }
            match mode {
                "batch1" => ev.apply_batch(b).unwrap(),
                "tx1" => (&ev,)
                    .transaction(|(e,)| {
                        e.apply_batch(&b)?;
                        Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
                    })
                    .unwrap(),
                _ => (&ev, &rq)
                    .transaction(|(e, q)| {
                        e.apply_batch(&b)?;
                        q.apply_batch(&r)?;
                        Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
                    })
                    .unwrap(),
            }
            db.flush().unwrap();
        }
        let s = t.elapsed().as_secs_f64();
        println!("{mode}: {:.0} ev/s", n as f64 / s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
