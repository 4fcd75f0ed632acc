import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../server/config';

const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: '/tmp/x', ...env }).documents;
const refuses = (env: Record<string, string>, pattern: RegExp) => expect(() => load(env)).to.throw(ConfigError, pattern);

describe('documents: configuration', () => {
  it('defaults to the embedded store, a private bucket and one-hour links', () => {
    expect(load({})).to.deep.include({ endpoint: undefined, bucket: 'clinic-documents', region: 'us-east-1', pathStyle: true, linkTtl: 3600, orphanAgeMinutes: 60 });
  });

  it('reads an S3 endpoint as a URL or a host, with the scheme deciding TLS', () => {
    const creds = { S3_ACCESS_KEY: 'minio', S3_SECRET_KEY: 'minio-secret-key' };
    expect(load({ S3_ENDPOINT: 'http://minio:9000', ...creds }).endpoint).to.deep.equal({ host: 'minio', port: 9000, useSSL: false });
    expect(load({ S3_ENDPOINT: 'https://s3.eu-west-1.amazonaws.com', ...creds }).endpoint).to.deep.equal({ host: 's3.eu-west-1.amazonaws.com', port: 443, useSSL: true });
    expect(load({ S3_ENDPOINT: 'minio:9000', S3_USE_SSL: 'false', ...creds }).endpoint).to.deep.equal({ host: 'minio', port: 9000, useSSL: false });
    expect(load({ S3_ENDPOINT: 'minio', ...creds }).endpoint, 'TLS unless turned off').to.deep.equal({ host: 'minio', port: 443, useSSL: true });
    expect(load({ S3_ENDPOINT: 'http://minio:9000', S3_PUBLIC_ENDPOINT: 'https://files.example.org', ...creds }).publicEndpoint)
      .to.deep.equal({ host: 'files.example.org', port: 443, useSSL: true });
    expect(load({ S3_ENDPOINT: 'http://minio:9000', S3_BUCKET: 'scans', S3_REGION: 'eu-west-1', S3_PATH_STYLE: 'false', DOCUMENT_LINK_TTL: '300', ...creds }))
      .to.deep.include({ bucket: 'scans', region: 'eu-west-1', pathStyle: false, linkTtl: 300 });
  });

  it('refuses bad settings by name', () => {
    refuses({ S3_ENDPOINT: 'http://minio:9000' }, /S3_ACCESS_KEY and S3_SECRET_KEY/);
    refuses({ S3_ENDPOINT: 'http://minio:9000/bucket', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }, /S3_ENDPOINT=.*without a path/);
    refuses({ S3_ENDPOINT: 'https://minio', S3_USE_SSL: 'false', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }, /S3_USE_SSL=false contradicts/);
    refuses({ S3_USE_SSL: 'yes' }, /S3_USE_SSL=yes/);
    refuses({ DOCUMENT_LINK_TTL: '3601' }, /DOCUMENT_LINK_TTL=3601 .* 1 to 3600/);
    refuses({ DOCUMENT_LINK_TTL: '0' }, /DOCUMENT_LINK_TTL/);
    refuses({ S3_BUCKET: 'Bad_Bucket' }, /S3_BUCKET=Bad_Bucket/);
    refuses({ S3_PATH_STYLE: '1' }, /S3_PATH_STYLE/);
    refuses({ S3_PUBLIC_ENDPOINT: 'https://files.example.org' }, /S3_PUBLIC_ENDPOINT needs S3_ENDPOINT/);
  });
});
