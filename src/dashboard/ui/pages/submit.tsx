// Submit a job: a JSON envelope (prefilled with an echo job), the quick inspect form, or the form
// of any operation generated from its payload schema.
import { useState } from 'preact/hooks';
import { api, ApiFailure } from '../api.js';
import { ErrorBox } from '../components/common.js';
import { OperationForm } from '../components/operation-form.js';
import { useApi } from '../hooks.js';
import { href } from '../router.js';
import { DISK_FORMATS } from '../../../protocol/vocabulary.js';
import { envelope } from '../envelopes.js';

const echoTemplate = () =>
  JSON.stringify(
    envelope('system.echo', { message: 'hello from the dashboard', sleep_ms: 0 }, 'echo'),
    null,
    2,
  );

async function submit(body: unknown, setError: (e: ApiFailure | undefined) => void): Promise<void> {
  setError(undefined);
  try {
    const r = await api<{ job_id: string }>('/api/v1/jobs', { method: 'POST', body });
    location.hash = href.job(r.job_id);
  } catch (e) {
    setError(e as ApiFailure);
  }
}

export function SubmitPage() {
  const [text, setText] = useState(echoTemplate);
  const [jsonError, setJsonError] = useState<ApiFailure>();
  const [image, setImage] = useState('');
  const [format, setFormat] = useState('');
  const [inspectError, setInspectError] = useState<ApiFailure>();
  const caps = useApi<{ operations: string[] }>('/api/v1/capabilities');

  const submitJson = (e: Event) => {
    e.preventDefault();
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      setJsonError(new ApiFailure(0, 'INVALID_JSON', `The job is not valid JSON: ${(err as Error).message}`));
      return;
    }
    void submit(doc, setJsonError);
  };
  const submitInspect = (e: Event) => {
    e.preventDefault();
    const img: Record<string, string> = { path: image.trim() };
    if (format) img.format = format;
    void submit(envelope('guestkit.inspect', { image: img }, 'inspect'), setInspectError);
  };

  return (
    <>
      <h1>Submit a job</h1>
      <div class="grid2">
        <form class="card" onSubmit={submitJson} aria-labelledby="json-h">
          <h2 id="json-h">Job envelope (JSON)</h2>
          <label for="job-json">Job Protocol v1 envelope</label>
          <textarea
            id="job-json"
            rows={18}
            spellcheck={false}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
          <div class="actions">
            <button type="submit">Submit job</button>
            <button type="button" class="secondary" onClick={() => setText(echoTemplate())}>
              New echo job
            </button>
          </div>
          {jsonError && <ErrorBox error={jsonError} title="Submission refused" />}
        </form>
        <form class="card" onSubmit={submitInspect} aria-labelledby="inspect-h">
          <h2 id="inspect-h">Quick inspect</h2>
          <label for="inspect-image">Disk image path (on the worker)</label>
          <input
            id="inspect-image"
            required
            value={image}
            onInput={(e) => setImage(e.currentTarget.value)}
            placeholder="/vms/disk.qcow2"
          />
          <label for="inspect-format">Format</label>
          <select id="inspect-format" value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
            <option value="">detect</option>
            {DISK_FORMATS.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
          <div class="actions">
            <button type="submit">Inspect image</button>
          </div>
          {inspectError && <ErrorBox error={inspectError} title="Submission refused" />}
        </form>
      </div>
      <OperationForm operations={caps.data?.operations} />
    </>
  );
}
