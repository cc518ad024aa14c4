// node-oidc-provider 9, in memory with its defaults, for `make bench` (bench/bench.py) to measure
// beside Porchlight: one client_credentials client, one relying party, and one opaque access
// token (openid email) for UserInfo and introspection, the same in every worker (fixed jti).
// Environment: PORT, BENCH_WORKERS (cluster workers; 0 runs a single process).
import cluster from 'node:cluster';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const workers = Number(process.env.BENCH_WORKERS ?? '2');
const credentials = {
  machine: { client_id: 'bench-machine', client_secret: 'bench-machine-secret-0123456789abcdef' },
  relyingParty: { client_id: 'bench-rp', client_secret: 'bench-rp-secret-0123456789abcdef' },
  accessToken: 'benchAccessToken0123456789abcdefghijklmnopqrs',
};

async function serve() {
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [
      {
        ...credentials.machine,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
      {
        ...credentials.relyingParty,
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: ['http://127.0.0.1:8080/callback'],
      },
    ],
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      devInteractions: { enabled: false },
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: 'bench@example.com', email_verified: true };
        },
      };
    },
  });
  const client = await provider.Client.find(credentials.relyingParty.client_id);
  const grant = new provider.Grant({ accountId: 'bench-user', clientId: client.clientId });
  grant.addOIDCScope('openid email');
  const grantId = await grant.save();
  const token = new provider.AccessToken({
    jti: credentials.accessToken,
    accountId: 'bench-user',
    client,
    grantId,
    scope: 'openid email',
    gty: 'authorization_code',
  });
  // An opaque token whose value is its jti, as generateTokenId would make it.
  token.format = 'opaque';
  await token.save();
  provider.listen(port, '127.0.0.1');
}

if (workers > 0 && cluster.isPrimary) {
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on('exit', (worker, code) => {
    console.error(`worker ${worker.process.pid} exited with ${code}`);
    process.exit(1);
  });
} else {
  await serve();
}
