#!/usr/bin/env python3
# Independent re-implementation of the handshake/data phase rule (DESIGN.md) over
# tshark-extracted TCP segments, compared with the product's per-flow handshake
# packet counts. A hand check, not a CI test (needs tshark):
#   python3 test/tls/phase-reference.py /work/shared/corpus/ndpi/pcap/tls_*.pcap*
# Run from the repository root. Simplifications: no early-data exception, no
# reorder-store limits, stream bytes placed first-copy-wins.
import subprocess, sys, json, collections, ipaddress
norm=lambda x: str(ipaddress.ip_address(x))
files=sys.argv[1:]
ours=collections.defaultdict(list)
out=subprocess.run(['node','--import','tsx','test/tls/corpus-check.ts','--dump',*files],capture_output=True).stdout.decode()
for l in out.split('\n'):
    if l.strip():
        r=json.loads(l); ours[(r['file'],frozenset([(norm(r['a']),r['ap']),(norm(r['b']),r['bp'])]))].append(r)
def records(stream):
    # stream: bytes of contiguous prefix -> list of (offset, type, length)
    out=[]; o=0
    while o+5<=len(stream):
        t=stream[o]; ver=stream[o+1]; L=(stream[o+3]<<8)|stream[o+4]
        if t<20 or t>24 or ver!=3 or L>18432: break
        out.append((o,t,L)); o+=5+L
    return out
def sh_version(stream, recs):
    hs=b''.join(stream[o+5:o+5+L] for o,t,L in recs if t==22)
    if len(hs)<4 or hs[0]!=2: return None, None
    L=int.from_bytes(hs[1:4],'big'); b=hs[4:4+L]
    if len(b)<L: return None, None
    legacy=int.from_bytes(b[0:2],'big'); p=2+32; sid=b[p]; p+=1+sid+3
    v=legacy
    if p+2<=len(b):
        e=p+2+int.from_bytes(b[p:p+2],'big'); p+=2
        while p+4<=e:
            ty=int.from_bytes(b[p:p+2],'big'); n=int.from_bytes(b[p+2:p+4],'big'); p+=4
            if ty==43 and n==2: v=int.from_bytes(b[p:p+2],'big')
            p+=n
    # stream offset where the SH message ends: find in records
    need=4+L; acc=0
    for o,t,RL in recs:
        if t!=22: continue
        if acc+RL>=need: return v, o+5+(need-acc)
        acc+=RL
    return v, None
stat=collections.Counter(); diffs=[]
for f in files:
    o=subprocess.run(['tshark','-r',f,'-Y','tcp','-T','fields','-e','tcp.stream','-e','ip.src','-e','ipv6.src','-e','tcp.srcport','-e','ip.dst','-e','ipv6.dst','-e','tcp.dstport','-e','tcp.flags.syn','-e','tcp.flags.ack','-e','tcp.flags.reset','-e','tcp.seq_raw','-e','tcp.payload','-e','tcp.flags.push','-e','tcp.flags.fin'],capture_output=True).stdout.decode('latin1')
    streams=collections.defaultdict(list)
    for row in o.split('\n'):
        p=row.split('\t')
        if len(p)<14: continue
        try:
            src=(norm((p[1] or p[2]).split(',')[-1]),int(p[3].split(',')[-1])); dst=(norm((p[4] or p[5]).split(',')[-1]),int(p[6].split(',')[-1]))
        except Exception: continue
        if not p[10]: continue
        try: pl=bytes.fromhex(p[11].split(',')[-1].replace(':','')) if p[11] else b''
        except ValueError: continue
        streams[p[0]].append(dict(src=src,dst=dst,syn=p[7]=='1',ack=p[8]=='1',rst=p[9]=='1',psh=p[12]=='1' or p[13]=='1',seq=int(p[10].split(',')[-1]),pl=pl))
    for s,pk in streams.items():
        key=(f,frozenset([pk[0]['src'],pk[0]['dst']]))
        cand=[r for r in ours.get(key,[]) if r['n']==len(pk)]
        if not cand: continue
        r=cand[0]
        client=None
        for x in pk:
            if x['syn'] and not x['ack']: client=x['src']; break
            if x['syn'] and x['ack']: client=x['dst']; break
        if client is None: client=pk[0]['src']
        # per direction: base seq, stream bytes (first wins), frontier per packet index
        base={}; buf={0:{},1:{}}; front={0:[],1:[]}; fr={0:0,1:0}
        for x in pk:
            d=0 if x['src']==client else 1
            if x['syn'] and d not in base: base[d]=(x['seq']+1)&0xffffffff
        for i,x in enumerate(pk):
            d=0 if x['src']==client else 1
            if x['rst']: front[d].append(fr[d]); front[1-d].append(fr[1-d]); continue
            pl=x['pl']
            if len(pl)<=6 and pl==bytes(len(pl)) and not x['psh'] and len(pl)>0: pl=b''  # padding
            if pl:
                if d not in base: base[d]=x['seq']
                rel=(x['seq']+(1 if x['syn'] else 0)-base[d])&0xffffffff
                if rel>2**31: rel=None
                if rel is not None:
                    for k,bt in enumerate(pl): buf[d].setdefault(rel+k,bt)
                    while fr[d] in buf[d]: fr[d]+=1
            front[0].append(fr[0]); front[1].append(fr[1])
        streamb={d:bytes(buf[d][k] for k in range(fr[d])) for d in (0,1)}
        recs={d:records(streamb[d]) for d in (0,1)}
        if not recs[0] or recs[0][0][1]!=22 or len(streamb[0])<6 or streamb[0][5]!=1: stat['skip: not a CH start']+=1; continue
        v,shend=sh_version(streamb[1],recs[1])
        def pidx(d,off):  # first packet index whose arrival makes the frontier pass off
            for i in range(len(pk)):
                if front[d][i]>off: return i
            return None
        v13 = v is not None and (v==0x0304 or (v>>8)==0x7f or (v&0xfff0)==0xfb10)
        exp=len(pk)
        if v13 and shend is not None:
            shi=pidx(1,shend-1)
            cands=[pidx(0,o) for o,t,L in recs[0] if t==23]
            cands=[c for c in cands if c is not None and c>shi]
            if cands: exp=min(cands)+1
        else:
            cands=[pidx(d,o) for d in (0,1) for o,t,L in recs[d] if t==23]
            cands=[c for c in cands if c is not None]
            if cands: exp=min(cands)
        if exp==r['hs']: stat['agree']+=1
        else: stat['differ']+=1; diffs.append((f.split('/')[-1],s,'v13' if v13 else 'le12','expected',exp,'ours',r['hs'],'n',len(pk)))
print(dict(stat))
for d in diffs: print(d)
