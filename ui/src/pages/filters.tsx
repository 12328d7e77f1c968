import type { Filters } from '../api';

/** Tags as typed: comma-separated, trimmed, empty ones dropped. */
export const tagList = (text: string): string[] =>
  text
    .split(',')
    .map((tag) => tag.trim())
    .filter(Boolean);
const isoStart = (day: string) => (day ? new Date(`${day}T00:00:00Z`).toISOString() : undefined);
const isoEnd = (day: string) => (day ? new Date(`${day}T23:59:59.999Z`).toISOString() : undefined);

/** Category, tags and a created-between range; `onChange` gets the filters as the API takes them. */
export function FilterFields({ onChange }: { onChange: (filters: Filters) => void }) {
  const read = (form: HTMLFormElement): Filters => {
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
    return {
      ...(value('category') && { category: value('category') }),
      ...(value('tags') && { tags: tagList(value('tags')) }),
      ...(value('from') && { createdAfter: isoStart(value('from')) }),
      ...(value('to') && { createdBefore: isoEnd(value('to')) }),
    };
  };
  return (
    <fieldset
      class="filters"
      onChange={(event) => onChange(read((event.currentTarget as HTMLFieldSetElement).form as HTMLFormElement))}
    >
      <legend>Filters</legend>
      <label>
        Category <input name="category" type="text" />
      </label>
      <label>
        Tags <input name="tags" type="text" placeholder="comma-separated" />
      </label>
      <label>
        From <input name="from" type="date" />
      </label>
      <label>
        To <input name="to" type="date" />
      </label>
    </fieldset>
  );
}
