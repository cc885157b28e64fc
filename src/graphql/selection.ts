import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Look-ahead into the selection set of the field being resolved, so that a list resolver can load
 * in one statement what its items' fields will ask for. Fields are grouped by name (not alias);
 * fragments, inline fragments and fields under `@include`/`@skip` are all counted, whatever their
 * type condition or directive: the answer is a superset of what will be resolved, never less.
 */
export type Selection = ReadonlyMap<string, readonly FieldNode[]>;

function collect(
  info: GraphQLResolveInfo,
  set: SelectionSetNode | undefined,
  into: Map<string, FieldNode[]>,
  seenFragments: Set<string>,
): void {
  if (!set) return;
  for (const node of set.selections) {
    switch (node.kind) {
      case Kind.FIELD: {
        const name = node.name.value;
        const list = into.get(name);
        if (list) list.push(node);
        else into.set(name, [node]);
        break;
      }
      case Kind.INLINE_FRAGMENT:
        collect(info, node.selectionSet, into, seenFragments);
        break;
      case Kind.FRAGMENT_SPREAD: {
        const name = node.name.value;
        if (seenFragments.has(name)) break;
        seenFragments.add(name);
        collect(info, info.fragments[name]?.selectionSet, into, seenFragments);
        break;
      }
    }
  }
}

/** The sub-fields selected under `nodes` (all occurrences of the field merged), by name. */
export function subSelection(info: GraphQLResolveInfo, nodes: readonly FieldNode[]): Selection {
  const into = new Map<string, FieldNode[]>();
  for (const node of nodes) collect(info, node.selectionSet, into, new Set());
  return into;
}

/** The sub-fields selected under the field being resolved. */
export function selectionOf(info: GraphQLResolveInfo): Selection {
  return subSelection(info, info.fieldNodes);
}

/**
 * The fields selected on the items of a connection being resolved: under `nodes` and under
 * `edges { node }`, merged; null when no item field is selected at all.
 */
export function connectionItemSelection(info: GraphQLResolveInfo): Selection | null {
  const connection = selectionOf(info);
  const items: FieldNode[] = [...(connection.get('nodes') ?? [])];
  const edges = connection.get('edges');
  if (edges) items.push(...(subSelection(info, edges).get('node') ?? []));
  return items.length > 0 ? subSelection(info, items) : null;
}
