// The types a dashboard is checked against: Grafana's published schema (npm @grafana/schema, the
// version pinned in package.json = the minimum Grafana the dashboard states), made strict where
// the published Dashboard type is loose.
//
// The published Dashboard type alone types a panel's `options`, `fieldConfig.defaults.custom` and
// `targets` as Record<string, unknown>, so a misspelt panel option would pass. Here each panel
// type is checked against its plugin's own schema (StatPanelCfg, TablePanelCfg, ...), and every
// query against the Prometheus data query schema. generate.mjs writes each panel of the JSON as
// an object literal with `satisfies` the type of its panel type, so TypeScript's excess property
// check reports any field the schema does not know (TS2353).
//
// Two adaptations, neither of which loosens a field list:
//   * The schema's enums (FieldColorModeId, ThresholdsMode, MappingType, BigValueColorMode, ...)
//     are TypeScript string enums, to which a JSON string is not assignable. Loose<T> replaces
//     each by the union of its values ("thresholds" | "palette-classic" | ...): the same
//     values are accepted, misspelt ones are still refused.
//   * Grafana fills in every option a dashboard leaves out, so Loose<T> also makes each field
//     optional.
import type * as schema from '@grafana/schema';
import type * as prometheus from '@grafana/schema/dist/esm/raw/composable/prometheus/dataquery/x/PrometheusDataQuery_types.gen';
import type * as stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type * as timeseries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

/** `T` with string enums as unions of their values and every field optional, recursively. */
export type Loose<T> = T extends string
  ? string extends T
    ? T
    : `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Array<Loose<U>>
      : T extends object
        ? { [K in keyof T]?: Loose<T[K]> }
        : T;

/** A query of a panel on the Prometheus datasource. */
export type PrometheusQuery = Loose<prometheus.PrometheusDataQuery>;

/** A panel whose plugin options are `Options` and whose per-field custom options are `Custom`. */
export type TypedPanel<Type extends string, Options, Custom> = Loose<
  Omit<schema.Panel, 'type' | 'options' | 'fieldConfig' | 'targets'>
> & {
  type: Type;
  options?: Loose<Options>;
  fieldConfig?: {
    defaults: Loose<Omit<schema.FieldConfig, 'custom'>> & { custom?: Loose<Custom> };
    overrides: Loose<schema.FieldConfigSource['overrides']>;
  };
  targets?: PrometheusQuery[];
};

/** The stat panel has no per-field custom options. */
export type StatPanel = TypedPanel<'stat', stat.Options, Record<string, never>>;
export type TablePanel = TypedPanel<'table', table.Options, table.FieldConfig>;
export type TimeSeriesPanel = TypedPanel<'timeseries', timeseries.Options, timeseries.FieldConfig>;
export type RowPanel = Loose<Omit<schema.RowPanel, 'type' | 'panels'>> & {
  type: 'row';
  panels: Array<StatPanel | TablePanel | TimeSeriesPanel>;
};

/** The dashboard around its panels. */
export type Dashboard = Loose<Omit<schema.Dashboard, 'panels'>> & {
  panels: Array<RowPanel | StatPanel | TablePanel | TimeSeriesPanel>;
};
