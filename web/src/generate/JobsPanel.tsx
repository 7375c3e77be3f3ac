// The caller's recent jobs on the Generate page: progress bars, live previews and results.
import { thumbnailUrl } from '../api/images';
import type { JobProgress } from './useJobProgress';

const FINISHED = ['completed', 'failed', 'canceled'];

export function JobsPanel({ jobs }: { jobs: JobProgress[] }) {
  if (jobs.length === 0) return <p className="muted">Your jobs will show their progress here.</p>;
  return (
    <ul className="jobs" data-testid="jobs">
      {jobs.map((job) => {
        // A running job whose step count has not arrived yet (it was listed, not followed): an indeterminate bar.
        const fraction = job.total > 0 ? job.step / job.total : job.status === 'in_progress' ? undefined : 0;
        return (
          <li key={job.id} className="job" data-testid="job" data-job-id={job.id} data-status={job.status}>
            <div className="job-head">
              <span className={`status status-${job.status}`} data-testid="job-status">
                {job.status.replace('_', ' ')}
              </span>
              {job.total > 0 && !FINISHED.includes(job.status) && (
                <span className="muted">
                  step {job.step}/{job.total}
                </span>
              )}
            </div>
            {!FINISHED.includes(job.status) && (
              <progress max={1} value={fraction} aria-label="Generation progress" data-testid="job-progress" />
            )}
            {job.preview && !FINISHED.includes(job.status) && (
              <img className="preview" src={job.preview} alt="Live preview" data-testid="job-preview" />
            )}
            {job.error && <p className="error-text">{job.error}</p>}
            {job.resultImageIds.length > 0 && (
              <div className="results">
                {job.resultImageIds.map((id) => (
                  <img key={id} src={thumbnailUrl(id)} alt="Result" data-testid="job-result" />
                ))}
              </div>
            )}
          </li>
        );
      })}
    </ul>
  );
}
