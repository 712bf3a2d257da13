/**
 * Field lists of the JSON objects, against Consul 1.10's structs (agent/structs/structs.go,
 * api/agent.go): names, capitalisation and order, which fields are always there and which are
 * omitempty. Clients decode by these names, so a rename here is a compatibility break.
 */
import { describe, expect, it } from 'vitest';
import type { CheckDefinition, CheckRow, NodeRow, ServiceDefinition, ServiceRow } from '../../src/plugin.ts';
import { encodeJson } from './wire.ts';
import {
  agentCheckJson,
  agentServiceJson,
  healthCheckJson,
  healthEntryJson,
  nodeJson,
  nodeServiceJson,
  serviceNodeJson,
} from './consul-objects.ts';

const node: NodeRow = {
  node: 'node1',
  id: '0b5f6a36-6fe4-4f06-9d2e-3bd2a4a2c8d1',
  address: '10.0.0.1',
  datacenter: 'dc1',
  taggedAddresses: { lan: '10.0.0.1' },
  meta: { rack: 'r1' },
  createIndex: 3n,
  modifyIndex: 9007199254740993n,
};
const svc: ServiceRow = {
  node: 'node1',
  id: 'web-1',
  service: 'web',
  tags: ['v1'],
  address: '',
  port: 8080,
  meta: { version: '2' },
  weights: { passing: 3, warning: 1 },
  enableTagOverride: false,
  taggedAddresses: {},
  createIndex: 4n,
  modifyIndex: 5n,
};
const check: CheckRow = {
  node: 'node1',
  checkId: 'service:web-1',
  name: "Service 'web' check",
  status: 'passing',
  notes: '',
  output: 'ok',
  serviceId: 'web-1',
  serviceName: 'web',
  serviceTags: ['v1'],
  type: 'http',
  definition: { http: 'http://127.0.0.1:8080/health', interval: '10s', timeout: '' },
  createIndex: 6n,
  modifyIndex: 7n,
};

describe('catalog objects', () => {
  it('Node', () => {
    expect(Object.keys(nodeJson(node))).toEqual(['ID', 'Node', 'Address', 'Datacenter', 'TaggedAddresses', 'Meta', 'CreateIndex', 'ModifyIndex']);
    expect(encodeJson(nodeJson(node))).toContain('"ModifyIndex":9007199254740993}');
  });

  it('NodeService: TaggedAddresses omitempty, values in CamelCase', () => {
    expect(Object.keys(nodeServiceJson(svc))).toEqual([
      'ID', 'Service', 'Tags', 'Address', 'Meta', 'Port', 'Weights', 'EnableTagOverride', 'Proxy', 'Connect', 'CreateIndex', 'ModifyIndex',
    ]);
    const tagged = nodeServiceJson({ ...svc, taggedAddresses: { wan: { address: '1.2.3.4', port: 80 } } });
    expect(tagged.TaggedAddresses).toEqual({ wan: { Address: '1.2.3.4', Port: 80 } });
    expect(tagged.Weights).toEqual({ Passing: 3, Warning: 1 });
  });

  it('ServiceNode: node fields flattened, then Service*-prefixed ones', () => {
    const j = serviceNodeJson(svc, node);
    expect(Object.keys(j)).toEqual([
      'ID', 'Node', 'Address', 'Datacenter', 'TaggedAddresses', 'NodeMeta', 'ServiceKind', 'ServiceID', 'ServiceName', 'ServiceTags',
      'ServiceAddress', 'ServiceWeights', 'ServiceMeta', 'ServicePort', 'ServiceEnableTagOverride', 'ServiceProxy', 'ServiceConnect',
      'CreateIndex', 'ModifyIndex',
    ]);
    expect(j).toMatchObject({ ID: node.id, Address: '10.0.0.1', NodeMeta: { rack: 'r1' }, ServicePort: 8080, CreateIndex: 4, ModifyIndex: 5 });
  });

  it('ServiceNode follows a node change even when the service row did not change', () => {
    const before = serviceNodeJson(svc, node);
    const moved = { ...node, address: '10.0.0.9' };
    expect(serviceNodeJson(svc, moved).Address).toBe('10.0.0.9');
    expect(serviceNodeJson(svc, node)).toEqual(before);
  });

  it('HealthCheck: serfHealth has Type "", Definition only has what is set', () => {
    const j = healthCheckJson(check);
    expect(Object.keys(j)).toEqual([
      'Node', 'CheckID', 'Name', 'Status', 'Notes', 'Output', 'ServiceID', 'ServiceName', 'ServiceTags', 'Type', 'ExposedPort', 'Definition',
      'CreateIndex', 'ModifyIndex',
    ]);
    expect(j.Definition).toEqual({ HTTP: 'http://127.0.0.1:8080/health', Interval: '10s' });
    expect(healthCheckJson({ ...check, type: 'serf', serviceTags: [] }).Type).toBe('');
  });

  it('health entry: Node, Service, Checks', () => {
    expect(Object.keys(healthEntryJson(node, svc, [check]))).toEqual(['Node', 'Service', 'Checks']);
  });
});

describe('agent objects', () => {
  const def: ServiceDefinition = {
    id: 'web-1',
    name: 'web',
    tags: [],
    address: '',
    port: 80,
    meta: {},
    weights: { passing: 1, warning: 1 },
    enableTagOverride: false,
    taggedAddresses: {},
    checks: [],
    source: 'api',
  };

  it('AgentService: no indexes, Datacenter added', () => {
    expect(Object.keys(agentServiceJson(def, 'dc1'))).toEqual([
      'ID', 'Service', 'Tags', 'Meta', 'Port', 'Address', 'Weights', 'EnableTagOverride', 'Datacenter',
    ]);
  });

  it('agent check: zero RaftIndex, durations as Go strings', () => {
    const c: CheckDefinition = {
      id: 'mem',
      name: 'Memory',
      notes: '',
      serviceId: '',
      kind: 'tcp',
      tcp: '127.0.0.1:22',
      interval: 30_000,
      timeout: 1500,
      status: 'critical',
      successBeforePassing: 0,
      failuresBeforeCritical: 0,
      source: 'api',
    };
    const j = agentCheckJson('node1', c, 'passing', 'TCP connect 127.0.0.1:22: Success', undefined);
    expect(j).toMatchObject({ Type: 'tcp', ServiceTags: [], CreateIndex: 0, ModifyIndex: 0, Definition: { TCP: '127.0.0.1:22', Interval: '30s', Timeout: '1.5s' } });
  });
});
