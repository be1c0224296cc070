// The submit form of any operation, generated from its payload.data schema (schema-form.ts):
// text, number, choice and yes/no/default fields, checkboxes for lists of choices, JSON for the rest.
import { useMemo, useState } from 'preact/hooks';
import { api, ApiFailure } from '../api.js';
import { envelope } from '../envelopes.js';
import { href } from '../router.js';
import { buildData, FormError, formFields, type FormField, type FormValues } from '../schema-form.js';
import { OPERATION_PAYLOADS } from '../../../protocol/payloads/index.js';
import { ErrorBox } from './common.js';

type Operation = keyof typeof OPERATION_PAYLOADS;
const OPERATIONS = Object.keys(OPERATION_PAYLOADS) as Operation[];

/** `operations`: what the worker runs (capabilities); the form offers those it has a schema for. */
export function OperationForm({ operations }: { operations?: string[] }) {
  const offered = operations ? OPERATIONS.filter((o) => operations.includes(o)) : OPERATIONS;
  const [op, setOp] = useState<Operation>('guestkit.inspect');
  const current = offered.includes(op) ? op : (offered[0] ?? op);
  const fields = useMemo(() => formFields(OPERATION_PAYLOADS[current].schema), [current]);
  const [values, setValues] = useState<FormValues>({});
  const [error, setError] = useState<ApiFailure>();
  const set = (key: string, v: string | string[]) => setValues((old) => ({ ...old, [key]: v }));

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const data = buildData(fields, values);
      const prefix = current.slice(current.indexOf('.') + 1);
      const r = await api<{ job_id: string }>('/api/v1/jobs', {
        method: 'POST',
        body: envelope(current, data, prefix),
      });
      location.hash = href.job(r.job_id);
    } catch (err) {
      setError(
        err instanceof FormError ? new ApiFailure(0, 'INVALID_FORM', err.message) : (err as ApiFailure),
      );
    }
  };

  return (
    <form class="card op-form" onSubmit={submit} aria-labelledby="op-form-h">
      <h2 id="op-form-h">Any operation</h2>
      <label for="op-form-op">Operation</label>
      <select
        id="op-form-op"
        value={current}
        onChange={(e) => {
          setOp(e.currentTarget.value as Operation);
          setValues({});
          setError(undefined);
        }}
      >
        {offered.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
      <p class="small muted">{OPERATION_PAYLOADS[current].summary}</p>
      {fields.map((f) => (
        <Field key={`${current}:${f.key}`} op={current} field={f} value={values[f.key]} set={set} />
      ))}
      <div class="actions">
        <button type="submit">Submit {current}</button>
      </div>
      {error && <ErrorBox error={error} title="Submission refused" />}
    </form>
  );
}

function Field(props: {
  op: string;
  field: FormField;
  value: string | string[] | undefined;
  set: (key: string, v: string | string[]) => void;
}) {
  const { op, field: f, value, set } = props;
  const id = `op-${op}-${f.key || 'data'}`.replace(/[^A-Za-z0-9_-]/g, '-');
  const name = f.key || 'payload.data (JSON)';
  const hint = f.description ? <small id={`${id}-hint`}>{f.description}</small> : null;
  const described = f.description ? `${id}-hint` : undefined;
  const text = typeof value === 'string' ? value : '';
  const dflt = f.default === undefined ? 'default' : `default (${String(f.default)})`;

  if (f.kind === 'multi') {
    const picked = Array.isArray(value) ? value : [];
    return (
      <fieldset class="field" aria-describedby={described}>
        <legend>{name}</legend>
        {(f.options ?? []).map((o) => (
          <label key={o} class="check">
            <input
              type="checkbox"
              checked={picked.includes(o)}
              onChange={(e) =>
                set(f.key, e.currentTarget.checked ? [...picked, o] : picked.filter((x) => x !== o))
              }
            />
            {o}
          </label>
        ))}
        {hint}
      </fieldset>
    );
  }
  let control;
  if (f.kind === 'enum' || f.kind === 'flag') {
    const options = f.kind === 'flag' ? ['true', 'false'] : (f.options ?? []);
    control = (
      <select
        id={id}
        value={text}
        required={f.required}
        aria-describedby={described}
        onChange={(e) => set(f.key, e.currentTarget.value)}
      >
        {(!f.required || f.kind === 'flag') && <option value="">{dflt}</option>}
        {f.required && f.kind === 'enum' && <option value="">choose…</option>}
        {options.map((o) => (
          <option key={o} value={o}>
            {f.kind === 'flag' ? (o === 'true' ? 'yes' : 'no') : o}
          </option>
        ))}
      </select>
    );
  } else if (f.kind === 'json') {
    control = (
      <textarea
        id={id}
        rows={4}
        spellcheck={false}
        value={text}
        aria-describedby={described}
        onInput={(e) => set(f.key, e.currentTarget.value)}
      />
    );
  } else if (f.kind === 'number') {
    control = (
      <input
        id={id}
        type="number"
        step={f.integer ? 1 : 'any'}
        min={f.min ?? ''}
        max={f.max ?? ''}
        required={f.required}
        value={text}
        aria-describedby={described}
        onInput={(e) => set(f.key, e.currentTarget.value)}
      />
    );
  } else {
    control = (
      <input
        id={id}
        type="text"
        required={f.required}
        value={text}
        aria-describedby={described}
        onInput={(e) => set(f.key, e.currentTarget.value)}
      />
    );
  }
  return (
    <div class="field">
      <label for={id}>
        {name}
        {f.required && <span aria-hidden="true"> *</span>}
      </label>
      {control}
      {hint}
    </div>
  );
}
