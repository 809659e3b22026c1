/** A fixed flow + verdict for sink tests, and its ECS record. */
import { toEcs, type FlowRecord, type Verdict } from '../../src/flow/record.js';

export function flow(i = 0, over: Partial<FlowRecord> = {}): FlowRecord {
  return {
    ipVersion: 4,
    transport: 'tcp',
    srcIp: '192.0.2.10',
    srcPort: 51514 + i,
    dstIp: '198.51.100.7',
    dstPort: 443,
    vlan: 0,
    start: 1700000000.25,
    end: 1700000002.75,
    fwdPackets: 12,
    fwdBytes: 1840,
    bwdPackets: 10,
    bwdBytes: 9050,
    communityId: i === 0 ? "1:LQU9qZlK+B5F3KDmev6m5PMibrg=" : `1:flow${i}=`,
    endReason: 'fin',
    isTls: true,
    tls: { sni: 'a"b\\c]d.example', alpnOffered: ['h2'], alpnNegotiated: 'h2', versionOffered: 'TLSv1.3', versionNegotiated: 'TLSv1.3' },
    handshakePackets: 6,
    dataPackets: 16,
    features: new Float64Array([1.5, NaN, 3]),
    ...over,
  };
}

export const verdict: Verdict = {
  app: 'youtube',
  confidence: 0.875,
  candidates: [{ app: 'youtube', p: 0.9, q: 9, vote: 0.875 }],
  decided_by: 'single',
};

export const record = (i = 0, over: Partial<FlowRecord> = {}) => toEcs(flow(i, over), verdict);
